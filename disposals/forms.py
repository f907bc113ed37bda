"""Forms for the disposal pages. They only check shapes; the services hold the rules."""

from __future__ import annotations

from django import forms
from django.utils import timezone

from disposals.models import (
    Consignment,
    Grade,
    Partner,
    ResidualValueRule,
    Route,
    SanitisationRecord,
)

BULK_ACTIONS = [
    ("open", "Open disposal cases"),
    ("sanitise", "Record sanitisation result"),
    ("assess", "Assess residual value"),
    ("accept_route", "Accept suggested route"),
    ("override_route", "Choose another route"),
    ("consign", "Add to consignment"),
]


class BulkSelectionForm(forms.Form):
    """The board's action and the ticked rows (device ids for 'open', else case ids)."""

    action = forms.ChoiceField(choices=BULK_ACTIONS)
    queue = forms.CharField(required=False)
    selected = forms.TypedMultipleChoiceField(
        coerce=int, choices=(), error_messages={"required": "Select at least one device."}
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Any integer id is accepted here; the view keeps only the ids in the user's
        # scope, and the services check each one's step.
        self.fields["selected"].valid_value = lambda value: str(value).isdigit()


class SanitisationBulkForm(forms.Form):
    method = forms.ChoiceField(choices=SanitisationRecord.Method.choices)
    standard = forms.CharField(max_length=100, help_text="For example NIST SP 800-88 Purge")
    tool = forms.CharField(label="Tool or software", max_length=100)
    tool_version = forms.CharField(max_length=50, required=False)
    operator = forms.CharField(max_length=100, help_text="Technician's name or staff ID")
    verifier = forms.CharField(max_length=100, help_text="A different person")
    performed_at = forms.DateTimeField(
        label="Performed at", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    result = forms.ChoiceField(choices=SanitisationRecord.Result.choices, widget=forms.RadioSelect)
    certificate_ref = forms.CharField(
        label="Certificate or log reference",
        max_length=150,
        help_text="The batch log reference; each device's record adds its asset tag.",
    )

    def clean(self):
        data = super().clean()
        operator, verifier = data.get("operator", ""), data.get("verifier", "")
        if operator and verifier and operator.strip().casefold() == verifier.strip().casefold():
            self.add_error("verifier", "The verifier must be a different person from the operator.")
        when = data.get("performed_at")
        if when and when > timezone.now():
            self.add_error("performed_at", "The sanitisation cannot be in the future.")
        return data


class AssessForm(forms.Form):
    grade = forms.ChoiceField(label="Condition grade", choices=Grade.choices)
    policy_destruction = forms.BooleanField(
        label="Security policy requires destruction", required=False
    )


class OverrideRouteForm(forms.Form):
    route = forms.ChoiceField(choices=Route.choices)
    override_reason = forms.CharField(
        label="Reason for choosing another route", max_length=500, widget=forms.Textarea
    )


class ConsignForm(forms.Form):
    consignment = forms.ModelChoiceField(
        queryset=Consignment.objects.none(), empty_label="Choose an open consignment"
    )

    def __init__(self, *args, route: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        # Every open consignment is offered, not only those already visible to the user:
        # a consignment carries several units' devices, and a new one carries none yet.
        qs = Consignment.objects.filter(status=Consignment.Status.OPEN).select_related("partner")
        self.fields["consignment"].queryset = qs.filter(route=route) if route else qs


class ConsignmentCreateForm(forms.Form):
    route = forms.ChoiceField(choices=Route.choices)
    partner = forms.ModelChoiceField(
        queryset=Partner.objects.filter(approved=True), empty_label="Choose a partner"
    )


class DispatchForm(forms.Form):
    dispatch_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    collected_by = forms.CharField(max_length=200)
    transfer_note_ref = forms.CharField(
        label="Waste transfer note or equivalent reference", max_length=100
    )


class CertificateForm(forms.Form):
    certificate = forms.FileField(label="Partner's certificate (PDF, PNG or JPEG, up to 10 MB)")


class CloseForm(forms.Form):
    proceeds = forms.DecimalField(
        label="Resale proceeds (£)", max_digits=12, decimal_places=2, min_value=0, required=False
    )


class ResidualValueRuleForm(forms.ModelForm):
    class Meta:
        model = ResidualValueRule
        fields = [
            "name",
            "effective_from",
            "base_percent_laptop",
            "base_percent_desktop",
            "base_percent_monitor",
            "base_percent_smartphone",
            "base_percent_tablet",
            "depreciation_percent_per_year",
            "multiplier_a",
            "multiplier_b",
            "multiplier_c",
            "multiplier_scrap",
            "floor",
            "resale_threshold",
        ]
        widgets = {"effective_from": forms.DateInput(attrs={"type": "date"})}
        error_messages = {
            "effective_from": {"unique": "A rule already starts on this date; choose another date."}
        }
