"""Forms for the disposal pages. They only check shapes; the services hold the rules.

Every form is a GOV.UK form (``core.forms.GovukFormMixin``): no "---------" empty
choice, messages that name the field, dates as the GOV.UK date input, money as
people type it ("£1,250.50"). Nothing defaults to an answer the person has not
given: no condition grade, wipe method or result is chosen for them.
"""

from __future__ import annotations

import datetime as dt
import re

from django import forms
from django.utils import timezone

from core.forms import GovukDateField, GovukFormMixin, MoneyField
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


def _choose(text: str, choices) -> list[tuple[str, str]]:
    """Choices with an empty first option in words: the person must pick one."""
    return [("", text), *choices]


class BulkSelectionForm(forms.Form):
    """The board's action and the ticked rows (device ids for 'open', else case ids)."""

    action = forms.ChoiceField(
        choices=BULK_ACTIONS, error_messages={"required": "Choose what to do"}
    )
    queue = forms.CharField(required=False)
    selected = forms.TypedMultipleChoiceField(
        coerce=int,
        choices=(),
        error_messages={"required": "Select at least one device (tick its box in the table)."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Any integer id is accepted here; the view keeps only the ids in the user's
        # scope, and the services check each one's step.
        self.fields["selected"].valid_value = lambda value: str(value).isdigit()


# Text boxes sized to what they hold (GOV.UK width classes), not the full page width.
WIDE = forms.TextInput(attrs={"class": "govuk-input govuk-input--width-20"})
NARROW = forms.TextInput(attrs={"class": "govuk-input govuk-input--width-10"})
TIME_PATTERN = re.compile(r"^\s*(\d{1,2})[:.](\d{2})\s*$")


class SanitisationBulkForm(GovukFormMixin, forms.Form):
    method = forms.ChoiceField(
        label="Method", choices=_choose("Choose a method", SanitisationRecord.Method.choices)
    )
    standard = forms.CharField(
        max_length=100, help_text="For example NIST SP 800-88 Purge", widget=WIDE
    )
    tool = forms.CharField(label="Tool or software", max_length=100, widget=WIDE)
    tool_version = forms.CharField(max_length=50, required=False, widget=NARROW)
    operator = forms.CharField(
        max_length=100, help_text="Technician's name or staff ID", widget=WIDE
    )
    verifier = forms.CharField(
        max_length=100, help_text="A different person from the operator", widget=WIDE
    )
    performed_on = GovukDateField(label="Date performed", help_text="For example, 27 3 2026")
    performed_time = forms.CharField(
        label="Time performed",
        max_length=5,
        help_text="24-hour clock, for example 14:30",
        widget=forms.TextInput(attrs={"class": "govuk-input govuk-input--width-5"}),
    )
    result = forms.ChoiceField(
        label="Result", choices=SanitisationRecord.Result.choices, widget=forms.RadioSelect
    )
    certificate_ref = forms.CharField(
        label="Certificate or log reference",
        max_length=150,
        help_text="The batch log reference; each device's record adds its asset tag.",
        widget=WIDE,
    )

    def clean_performed_time(self) -> dt.time:
        raw = self.cleaned_data["performed_time"]
        match = TIME_PATTERN.match(raw or "")
        hour, minute = (int(match.group(1)), int(match.group(2))) if match else (99, 99)
        if hour > 23 or minute > 59:
            raise forms.ValidationError("Time performed must be a time like 14:30 (24-hour clock)")
        return dt.time(hour, minute)

    def clean(self):
        data = super().clean()
        operator, verifier = data.get("operator", ""), data.get("verifier", "")
        if operator and verifier and operator.strip().casefold() == verifier.strip().casefold():
            self.add_error("verifier", "The verifier must be a different person from the operator")
        day, time = data.get("performed_on"), data.get("performed_time")
        if day and time:
            when = timezone.make_aware(dt.datetime.combine(day, time))
            if when > timezone.now():
                self.add_error("performed_on", "The sanitisation cannot be in the future")
            data["performed_at"] = when
        return data


class GradesForm(forms.Form):
    """The condition grade of each ticked device, chosen by the engineer (no default),
    and whether security policy sends them all to destruction.

    ``devices`` maps each ticked case id to how the page names its device; the grade
    fields are ``grade_<case id>``, the selects in the table's rows."""

    policy_destruction = forms.BooleanField(
        label="Security policy requires destruction of the selected devices", required=False
    )

    def __init__(self, *args, devices: dict[int, str], **kwargs):
        super().__init__(*args, **kwargs)
        for case_id, label in devices.items():
            self.fields[f"grade_{case_id}"] = forms.ChoiceField(
                label=f"Grade for {label}",
                choices=_choose("Choose a grade", Grade.choices),
                error_messages={
                    "required": f"Grade for {label}: choose a condition grade",
                    "invalid_choice": f"Grade for {label}: choose a condition grade",
                },
            )

    def grades(self) -> dict[int, str]:
        return {
            int(name.removeprefix("grade_")): value
            for name, value in self.cleaned_data.items()
            if name.startswith("grade_")
        }


class OverrideRouteForm(GovukFormMixin, forms.Form):
    route = forms.ChoiceField(
        label="Route instead", choices=_choose("Choose a route", Route.choices)
    )
    override_reason = forms.CharField(
        label="Reason for choosing another route", max_length=500, widget=forms.Textarea
    )


class ConsignForm(GovukFormMixin, forms.Form):
    consignment = forms.ModelChoiceField(
        queryset=Consignment.objects.none(), empty_label="Choose an open consignment"
    )

    def __init__(self, *args, route: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        # Every open consignment is offered, not only those already visible to the user:
        # a consignment carries several units' devices, and a new one carries none yet.
        qs = Consignment.objects.filter(status=Consignment.Status.OPEN).select_related("partner")
        self.fields["consignment"].queryset = qs.filter(route=route) if route else qs


class ConsignmentCreateForm(GovukFormMixin, forms.Form):
    route = forms.ChoiceField(choices=_choose("Choose a route", Route.choices))
    partner = forms.ModelChoiceField(
        queryset=Partner.objects.filter(approved=True), empty_label="Choose a partner"
    )


class DispatchForm(GovukFormMixin, forms.Form):
    dispatch_date = GovukDateField(label="Dispatch date")
    collected_by = forms.CharField(
        max_length=200, help_text="The driver or the partner's staff member", widget=WIDE
    )
    transfer_note_ref = forms.CharField(
        label="Waste transfer note or equivalent reference", max_length=100, widget=WIDE
    )


class CertificateForm(GovukFormMixin, forms.Form):
    certificate = forms.FileField(
        label="Partner's certificate",
        help_text="A PDF, PNG or JPEG file, up to 10 MB",
        required=False,  # checked in clean_certificate, after any refusal while streaming
    )

    def __init__(self, *args, max_bytes: int | None = None, refusal: str = "", **kwargs):
        """``refusal``: why the upload was refused before it reached the form (too
        large while it streamed in); shown as the field's error."""
        super().__init__(*args, **kwargs)
        self.refusal = refusal
        if max_bytes:
            size = (
                f"{max_bytes / 1024 / 1024:.0f} MB"
                if max_bytes >= 1024 * 1024
                else f"{max_bytes / 1024:.0f} KB"
            )
            self.fields["certificate"].help_text = f"A PDF, PNG or JPEG file, up to {size}"
        self.fields["certificate"].widget.attrs["accept"] = (
            ".pdf,.png,.jpg,.jpeg,application/pdf,image/png,image/jpeg"
        )

    def clean_certificate(self):
        if self.refusal:
            raise forms.ValidationError(self.refusal, code="too_large")
        upload = self.cleaned_data.get("certificate")
        if not upload:
            raise forms.ValidationError("Choose the partner's certificate file", code="required")
        return upload


class CloseForm(GovukFormMixin, forms.Form):
    proceeds = MoneyField(
        label="Resale proceeds (£)",
        required=False,
        help_text="What the reseller paid for the whole consignment; 0 if nothing",
    )


class RejectOverrideForm(GovukFormMixin, forms.Form):
    reason = forms.CharField(
        label="Reason for rejecting",
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Needed to reject: the asset manager sees it on the device's custody record",
    )


class ResidualValueRuleForm(GovukFormMixin, forms.ModelForm):
    effective_from = GovukDateField(
        label="Effective from",
        error_messages={"unique": "A rule already starts on this date; choose another date."},
    )
    floor = MoneyField(label="Nil below (£)")
    resale_threshold = MoneyField(label="Resale threshold (£)")

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
