"""Forms for the procurement pages. They only read input; the services decide.

Every form takes ``core.forms.GovukFormMixin`` (GOV.UK classes, empty choices in
words, messages that name their field); money is ``MoneyField`` ("1,000,000",
"£1,000"), dates the GOV.UK date input (``GovukDateField``), counts
``BoundedIntegerField``.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError

from accounts.models import BusinessUnit
from core.forms import BoundedIntegerField, GovukDateField, GovukFormMixin, MoneyField
from devices.models import Category, DeviceModel
from procurement.models import (
    ApprovalRecord,
    BudgetLine,
    Contract,
    PurchaseOrder,
    Supplier,
)

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
HUNDRED = Decimal("100")


class BudgetLineChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: BudgetLine) -> str:
        return f"{obj.financial_year} {obj.get_category_display()}"


class EnvelopeAsOfForm(GovukFormMixin, forms.Form):
    as_of = GovukDateField(
        required=False,
        label="Position as of (optional)",
        help_text="Counts orders approved and goods received on or before this day. "
        "For example, 30 9 2026",
    )


class BudgetTransferForm(GovukFormMixin, forms.Form):
    from_line = BudgetLineChoiceField(queryset=BudgetLine.objects.none(), label="From line")
    to_line = BudgetLineChoiceField(queryset=BudgetLine.objects.none(), label="To line")
    amount = MoneyField(label="Amount (£)", min_value=Decimal("0.01"))
    reason = forms.CharField(max_length=500, label="Reason")

    def __init__(self, *args, envelope=None, **kwargs):
        super().__init__(*args, **kwargs)
        lines = BudgetLine.objects.filter(envelope=envelope).order_by("financial_year", "category")
        self.fields["from_line"].queryset = lines
        self.fields["to_line"].queryset = lines


class ContractForm(GovukFormMixin, forms.Form):
    supplier = forms.ModelChoiceField(queryset=Supplier.objects.all(), label="Supplier")
    reference = forms.CharField(max_length=64, label="Reference")
    title = forms.CharField(max_length=300, label="Title")
    route = forms.ChoiceField(
        choices=[("", "Choose a route"), *Contract.Route.choices], label="Route"
    )
    framework_name = forms.CharField(
        max_length=300,
        required=False,
        label="Framework or contract called off",
        help_text="For a call-off: the framework or contract.",
    )
    framework_reference = forms.CharField(
        max_length=100, required=False, label="Framework reference"
    )
    ordering_process_followed = forms.BooleanField(
        required=False, label="The framework's ordering process was followed"
    )
    framework_ceiling = MoneyField(
        label="Framework ceiling (£)",
        max_digits=16,
        min_value=Decimal("0.01"),
        max_value=Decimal("99999999999999.99"),
        required=False,
        help_text="For a call-off: the call-off may not exceed it.",
    )
    framework_end_date = GovukDateField(
        required=False,
        label="Framework ends on",
        help_text="For a call-off: the call-off may not end after it. For example, 31 3 2028",
    )
    value_ceiling = MoneyField(label="Value ceiling (£)", min_value=Decimal("0.01"))
    start_date = GovukDateField(label="Start date", help_text="For example, 1 4 2025")
    end_date = GovukDateField(label="End date", help_text="For example, 31 3 2027")

    def clean(self):
        data = super().clean()
        if (
            data.get("start_date")
            and data.get("end_date")
            and data["end_date"] < data["start_date"]
        ):
            self.add_error("end_date", "End date must be on or after the start date")
        return data


class ContractAwardForm(GovukFormMixin, forms.Form):
    compliant_route = forms.CharField(
        max_length=300,
        label="Compliant procurement route",
        help_text="For example: call-off under RM6098 following its ordering process.",
    )
    dsp_consent_reference = forms.CharField(
        max_length=100, label="Director of Strategic Procurement's consent (reference)"
    )
    dsp_consent_on = GovukDateField(label="Consent given on", help_text="For example, 20 3 2025")
    awarded_on = GovukDateField(
        required=False, label="Awarded on", help_text="Leave blank for today"
    )
    dmpc_notified_on = GovukDateField(
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


class PurchaseOrderForm(GovukFormMixin, forms.Form):
    budget_line = BudgetLineChoiceField(
        queryset=BudgetLine.objects.none(),
        label="Budget line",
        empty_label="Choose a budget line",
    )
    supplier = forms.ModelChoiceField(
        queryset=Supplier.objects.all(), label="Supplier", empty_label="Choose a supplier"
    )
    contract = forms.ModelChoiceField(
        queryset=Contract.objects.select_related("supplier"),
        required=False,
        label="Contract",
        empty_label="No contract",
    )
    business_unit = forms.ModelChoiceField(
        queryset=BusinessUnit.objects.none(),
        label="Business unit receiving the devices",
        empty_label="Choose a business unit",
    )
    description = forms.CharField(max_length=500, required=False, label="Description")

    def __init__(self, *args, envelope=None, units=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["budget_line"].queryset = BudgetLine.objects.filter(envelope=envelope).order_by(
            "financial_year", "category"
        )
        self.fields["business_unit"].queryset = (
            units if units is not None else BusinessUnit.objects.none()
        )


class PurchaseOrderLineForm(GovukFormMixin, forms.Form):
    device_model = forms.ModelChoiceField(
        queryset=DeviceModel.objects.select_related("manufacturer"),
        required=False,
        label="Device model",
        empty_label="Choose a device model",
    )
    quantity = BoundedIntegerField(
        min_value=1,
        required=False,
        label="Quantity",
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "class": "govuk-input govuk-input--width-5"}
        ),
    )
    unit_price = MoneyField(label="Unit price, net (£)", required=False)
    vat_percent = forms.DecimalField(
        label="VAT rate (%)",
        max_digits=5,
        decimal_places=2,
        min_value=0,
        max_value=100,
        initial=Decimal("20"),
        required=False,
        widget=forms.TextInput(
            attrs={"inputmode": "decimal", "class": "govuk-input govuk-input--width-4"}
        ),
    )

    def clean(self):
        data = super().clean()
        filled = [data.get(k) not in (None, "") for k in ("device_model", "quantity", "unit_price")]
        if any(filled) and not all(filled):
            for name, label in (
                ("device_model", "Choose a device model"),
                ("quantity", "Enter quantity"),
                ("unit_price", "Enter unit price, net"),
            ):
                if data.get(name) in (None, "") and name not in self.errors:
                    self.add_error(name, label)
        data["is_blank"] = not any(filled)
        return data

    def line(self) -> dict | None:
        """The line for the service (VAT as a fraction), or None when left blank."""
        data = self.cleaned_data
        if not data or data.get("is_blank"):
            return None
        line = {k: data[k] for k in ("device_model", "quantity", "unit_price")}
        if data.get("vat_percent") is not None:
            line["vat_rate"] = data["vat_percent"] / HUNDRED
        return line


PurchaseOrderLineFormSet = forms.formset_factory(PurchaseOrderLineForm, extra=3, max_num=50)


def line_initial(order: PurchaseOrder) -> list[dict]:
    """An order's lines as the line formset's initial data (VAT as a percentage)."""
    return [
        {
            "device_model": line.device_model_id,
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "vat_percent": (line.vat_rate * HUNDRED).normalize(),
        }
        for line in order.lines.all()
    ]


class PurchaseOrderFilterForm(GovukFormMixin, forms.Form):
    status = forms.ChoiceField(
        choices=[("", "Any status"), *PurchaseOrder.Status.choices],
        required=False,
        label="Status",
    )
    budget_line = BudgetLineChoiceField(
        queryset=BudgetLine.objects.none(),
        required=False,
        label="Budget line",
        empty_label="Any budget line",
    )
    financial_year = forms.CharField(required=False, max_length=7, label="Financial year")
    category = forms.ChoiceField(
        choices=[("", "Any category"), *Category.choices], required=False, label="Category"
    )
    q = forms.CharField(required=False, max_length=100, label="Reference or description")

    def __init__(self, *args, envelope=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["budget_line"].queryset = BudgetLine.objects.filter(envelope=envelope).order_by(
            "financial_year", "category"
        )


class ApprovalRecordForm(GovukFormMixin, forms.Form):
    kind = forms.ChoiceField(
        choices=[("", "Choose the approval"), *ApprovalRecord.Kind.choices], label="Approval"
    )
    reference = forms.CharField(
        max_length=100, label="Reference", help_text="Decision or confirmation reference"
    )
    note = forms.CharField(max_length=500, required=False, label="Note")


class ApproveForm(GovukFormMixin, forms.Form):
    confirm = forms.BooleanField(
        label="I approve this order within my delegated authority",
        required=True,
        error_messages={"required": "Tick the box to confirm you approve this order"},
    )


class ReturnToDraftForm(GovukFormMixin, forms.Form):
    reason = forms.CharField(
        max_length=500,
        label="Why is it going back to draft?",
        help_text="The raiser sees this on the order.",
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Enter why the order is going back to draft"},
    )


class CancelForm(GovukFormMixin, forms.Form):
    reason = forms.CharField(
        max_length=500,
        label="Why is the order being cancelled?",
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Enter why the order is being cancelled"},
    )
    confirm = forms.BooleanField(
        label="I understand cancelling cannot be undone and releases its commitment",
        required=True,
        error_messages={"required": "Tick the box to confirm you want to cancel the order"},
    )


class OrderLineChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.device_model} ({obj.quantity:,} ordered)"


class ReceiveForm(GovukFormMixin, forms.Form):
    line = OrderLineChoiceField(queryset=None, label="Order line", empty_label="Choose a line")
    serials = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8}),
        required=False,
        label="Serial numbers, one per line",
    )
    upload = forms.FileField(
        required=False, label="Or upload a CSV or TXT file (serial number in the first column)"
    )
    received_on = GovukDateField(
        required=False, label="Received on", help_text="Leave blank for today"
    )

    def __init__(self, *args, purchase_order=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["line"].queryset = purchase_order.lines.select_related("device_model")

    def clean_upload(self):
        upload = self.cleaned_data.get("upload")
        if upload:
            name = upload.name.lower()
            if not name.endswith((".csv", ".txt")):
                raise ValidationError("The file must be a .csv or .txt file")
            if upload.size > MAX_UPLOAD_BYTES:
                raise ValidationError("The file must be smaller than 2 MB")
        return upload

    def clean(self):
        data = super().clean()
        if not (data.get("serials") or "").strip() and not data.get("upload"):
            self.add_error("serials", "Enter serial numbers or upload a file")
        return data
