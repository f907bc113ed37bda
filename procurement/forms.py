"""Forms for the procurement pages. They only read input; the services decide."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError

from accounts.models import BusinessUnit
from devices.models import Category, DeviceModel
from procurement.models import (
    ApprovalRecord,
    BudgetLine,
    Contract,
    PurchaseOrder,
    Supplier,
)

MAX_UPLOAD_BYTES = 2 * 1024 * 1024

WIDGET_CLASSES = [
    (forms.Select, "govuk-select"),
    (forms.Textarea, "govuk-textarea"),
    (forms.FileInput, "govuk-file-upload"),
    (forms.CheckboxInput, "govuk-checkboxes__input"),
]


class GovukForm(forms.Form):
    """Gives each widget its GOV.UK class, so includes/form_field.html styles it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            css = next(
                (c for cls, c in WIDGET_CLASSES if isinstance(field.widget, cls)), "govuk-input"
            )
            field.widget.attrs["class"] = css


class BudgetTransferForm(GovukForm):
    from_line = forms.ModelChoiceField(queryset=BudgetLine.objects.none(), label="From line")
    to_line = forms.ModelChoiceField(queryset=BudgetLine.objects.none(), label="To line")
    amount = forms.DecimalField(
        label="Amount (£)", max_digits=14, decimal_places=2, min_value=Decimal("0.01")
    )
    reason = forms.CharField(max_length=500)

    def __init__(self, *args, envelope=None, **kwargs):
        super().__init__(*args, **kwargs)
        lines = BudgetLine.objects.filter(envelope=envelope).order_by("financial_year", "category")
        self.fields["from_line"].queryset = lines
        self.fields["to_line"].queryset = lines


class ContractForm(GovukForm):
    supplier = forms.ModelChoiceField(queryset=Supplier.objects.all())
    reference = forms.CharField(max_length=64)
    title = forms.CharField(max_length=300)
    route = forms.ChoiceField(choices=Contract.Route.choices)
    framework_name = forms.CharField(
        max_length=300, required=False, help_text="For a call-off: the framework or contract."
    )
    framework_reference = forms.CharField(max_length=100, required=False)
    ordering_process_followed = forms.BooleanField(
        required=False, label="The framework's ordering process was followed"
    )
    framework_ceiling = forms.DecimalField(
        label="Framework ceiling (£)",
        max_digits=16,
        decimal_places=2,
        min_value=Decimal("0.01"),
        required=False,
        help_text="For a call-off: the call-off may not exceed it.",
    )
    framework_end_date = forms.DateField(
        required=False, help_text="For a call-off: the call-off may not end after it."
    )
    value_ceiling = forms.DecimalField(
        label="Value ceiling (£)", max_digits=14, decimal_places=2, min_value=Decimal("0.01")
    )
    start_date = forms.DateField(help_text="For example, 2025-04-01")
    end_date = forms.DateField()

    def clean(self):
        data = super().clean()
        if (
            data.get("start_date")
            and data.get("end_date")
            and data["end_date"] < data["start_date"]
        ):
            self.add_error("end_date", "The end date must be on or after the start date.")
        return data


class ContractAwardForm(GovukForm):
    compliant_route = forms.CharField(
        max_length=300,
        label="Compliant procurement route",
        help_text="For example: call-off under RM6098 following its ordering process.",
    )
    dsp_consent_reference = forms.CharField(
        max_length=100, label="Director of Strategic Procurement's consent (reference)"
    )
    dsp_consent_on = forms.DateField(label="Consent given on", help_text="For example, 2025-03-20")
    awarded_on = forms.DateField(required=False, help_text="Leave blank for today")
    dmpc_notified_on = forms.DateField(
        required=False, label="DMPC notified on", help_text="At £500,000 and above"
    )
    dmpc_called_in = forms.TypedChoiceField(
        label="Did the DMPC call the award in?",
        choices=[("", "Not applicable (under £500,000)"), ("no", "No"), ("yes", "Yes")],
        coerce=lambda value: {"yes": True, "no": False}.get(value),
        empty_value=None,
        required=False,
    )
    dmpc_decision_reference = forms.CharField(
        max_length=100, required=False, label="DMPC decision (reference), if called in"
    )


class PurchaseOrderForm(GovukForm):
    budget_line = forms.ModelChoiceField(queryset=BudgetLine.objects.none())
    supplier = forms.ModelChoiceField(queryset=Supplier.objects.all())
    contract = forms.ModelChoiceField(
        queryset=Contract.objects.select_related("supplier"), required=False
    )
    business_unit = forms.ModelChoiceField(
        queryset=BusinessUnit.objects.none(), label="Business unit receiving the devices"
    )
    description = forms.CharField(max_length=500, required=False)

    def __init__(self, *args, envelope=None, units=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["budget_line"].queryset = BudgetLine.objects.filter(envelope=envelope)
        self.fields["business_unit"].queryset = (
            units if units is not None else BusinessUnit.objects.none()
        )


class PurchaseOrderLineForm(GovukForm):
    device_model = forms.ModelChoiceField(
        queryset=DeviceModel.objects.select_related("manufacturer"), required=False
    )
    quantity = forms.IntegerField(min_value=1, required=False)
    unit_price = forms.DecimalField(
        label="Unit price, net (£)", max_digits=12, decimal_places=2, min_value=0, required=False
    )
    vat_rate = forms.DecimalField(
        label="VAT rate",
        max_digits=5,
        decimal_places=4,
        min_value=0,
        max_value=1,
        initial=Decimal("0.20"),
        required=False,
    )

    def clean(self):
        data = super().clean()
        filled = [data.get(k) not in (None, "") for k in ("device_model", "quantity", "unit_price")]
        if any(filled) and not all(filled):
            raise ValidationError("Give a device model, a quantity and a unit price.")
        data["is_blank"] = not any(filled)
        return data


PurchaseOrderLineFormSet = forms.formset_factory(PurchaseOrderLineForm, extra=3, max_num=50)


class PurchaseOrderFilterForm(GovukForm):
    status = forms.ChoiceField(
        choices=[("", "Any")] + list(PurchaseOrder.Status.choices), required=False
    )
    financial_year = forms.CharField(required=False, max_length=7, label="Financial year")
    category = forms.ChoiceField(choices=[("", "Any")] + list(Category.choices), required=False)
    q = forms.CharField(required=False, max_length=100, label="Reference or description")


class ApprovalRecordForm(GovukForm):
    kind = forms.ChoiceField(choices=ApprovalRecord.Kind.choices, label="Approval")
    reference = forms.CharField(max_length=100, help_text="Decision or confirmation reference")
    note = forms.CharField(max_length=500, required=False)


class ApproveForm(GovukForm):
    confirm = forms.BooleanField(
        label="I approve this order within my delegated authority", required=True
    )


class ReceiveForm(GovukForm):
    line = forms.ModelChoiceField(queryset=None, label="Order line")
    serials = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8}),
        required=False,
        label="Serial numbers, one per line",
    )
    upload = forms.FileField(
        required=False, label="Or upload a CSV or TXT file (serial number in the first column)"
    )
    received_on = forms.DateField(required=False, help_text="Leave blank for today")

    def __init__(self, *args, purchase_order=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["line"].queryset = purchase_order.lines.select_related("device_model")

    def clean_upload(self):
        upload = self.cleaned_data.get("upload")
        if upload:
            name = upload.name.lower()
            if not name.endswith((".csv", ".txt")):
                raise ValidationError("Upload a .csv or .txt file.")
            if upload.size > MAX_UPLOAD_BYTES:
                raise ValidationError("The file is larger than 2 MB.")
        return upload

    def clean(self):
        data = super().clean()
        if not (data.get("serials") or "").strip() and not data.get("upload"):
            raise ValidationError("Paste serial numbers or upload a file.")
        return data
