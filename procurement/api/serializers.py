"""Serializers for the procurement API. Commercial fields (money) are dropped for
callers who may not see them (accounts.roles.can_see_commercial)."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from api.commercial import CommercialFieldsMixin
from procurement.models import (
    ApprovalRecord,
    BudgetLine,
    Contract,
    ContractAward,
    PurchaseOrder,
)

COMMERCIAL_NOTE = (
    "OFFICIAL-SENSITIVE [COMMERCIAL]: only in answers to finance and commercial officers."
)


class BudgetLineSerializer(serializers.ModelSerializer):
    committed = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True)

    class Meta:
        model = BudgetLine
        fields = ["id", "envelope", "financial_year", "category", "amount", "committed"]


MONEY = {"max_digits": 14, "decimal_places": 2}


class HeadroomTermsSerializer(serializers.Serializer):
    """The terms of the one headroom sum (procurement.selectors.headroom)."""

    budget = serializers.DecimalField(**MONEY)
    committed = serializers.DecimalField(**MONEY)
    received = serializers.DecimalField(**MONEY)
    forecast_cost = serializers.DecimalField(
        **MONEY, help_text="Forecast demand cost for the year and category."
    )
    outstanding_cost = serializers.DecimalField(
        **MONEY, help_text="Forecast cost of demand not yet ordered (none in a closed year)."
    )
    headroom = serializers.DecimalField(
        **MONEY, help_text="budget − committed − forecast cost of demand not yet ordered."
    )
    over_budget = serializers.BooleanField(
        help_text="Committed plus demand not yet ordered exceeds the budget."
    )
    closed = serializers.BooleanField(help_text="The financial year has closed.")
    signal = serializers.ChoiceField(
        choices=["within_plan", "over_budget", "over_plan_volume", "closed"]
    )
    signal_label = serializers.CharField()


class EnvelopeRowSerializer(HeadroomTermsSerializer):
    budget_line_id = serializers.IntegerField()
    financial_year = serializers.CharField()
    category = serializers.CharField()
    forecast_volume = serializers.IntegerField()
    ordered_volume = serializers.IntegerField()
    outstanding_volume = serializers.IntegerField()
    received_volume = serializers.IntegerField()
    plan_volume = serializers.IntegerField(allow_null=True)
    over_plan_volume = serializers.BooleanField()


class EnvelopeYearSerializer(HeadroomTermsSerializer):
    financial_year = serializers.CharField()
    lines_over_budget = serializers.IntegerField()
    lines_over_plan_volume = serializers.IntegerField()


class UnfundedDemandSerializer(serializers.Serializer):
    financial_year = serializers.CharField()
    category = serializers.CharField()
    forecast_volume = serializers.IntegerField()
    forecast_cost = serializers.DecimalField(**MONEY)


class EnvelopePositionSerializer(serializers.Serializer):
    classification = serializers.CharField()
    envelope = serializers.DictField(allow_null=True)
    funded_categories = serializers.ListField(child=serializers.CharField())
    as_of = serializers.DateField(allow_null=True)
    total = serializers.DecimalField(**MONEY)
    allocated = serializers.DecimalField(**MONEY)
    committed = serializers.DecimalField(**MONEY)
    received = serializers.DecimalField(**MONEY)
    outstanding = serializers.DecimalField(**MONEY)
    headroom = serializers.DecimalField(
        **MONEY,
        help_text="The envelope total less committed and the demand not yet ordered.",
    )
    over_budget = serializers.BooleanField()
    forecast_available = serializers.BooleanField()
    rows = EnvelopeRowSerializer(many=True)
    years = EnvelopeYearSerializer(many=True)
    unfunded = UnfundedDemandSerializer(
        many=True, help_text="Demand of categories the envelope does not fund: never counted."
    )


class ContractAwardSerializer(serializers.ModelSerializer):
    class Meta:
        model = ContractAward
        fields = [
            "awarded_on",
            "compliant_route",
            "dsp_consent_reference",
            "dsp_consent_on",
            "dmpc_notified_on",
            "dmpc_called_in",
            "dmpc_decision_reference",
            "recorded_at",
        ]


def commercial_money(**kwargs):
    """A money field only finance and commercial officers receive: described in the
    schema as optional (CommercialFieldsMixin drops it for everyone else). These
    serializers only ever answer; no view reads input through them."""
    return serializers.DecimalField(
        max_digits=kwargs.pop("max_digits", 14),
        decimal_places=2,
        required=False,
        help_text=COMMERCIAL_NOTE,
        **kwargs,
    )


class ContractSerializer(CommercialFieldsMixin, serializers.ModelSerializer):
    commercial_fields = ("value_ceiling", "committed", "framework_ceiling")
    supplier_name = serializers.CharField(source="supplier.name", read_only=True)
    committed = commercial_money()
    value_ceiling = commercial_money()
    framework_ceiling = commercial_money(max_digits=16, allow_null=True)
    is_compliant_route = serializers.BooleanField(read_only=True)
    is_awarded = serializers.BooleanField(read_only=True)
    award = serializers.SerializerMethodField()

    def get_award(self, contract) -> dict | None:
        if not contract.is_awarded:
            return None
        return ContractAwardSerializer(contract.award).data

    class Meta:
        model = Contract
        fields = [
            "id",
            "reference",
            "title",
            "supplier",
            "supplier_name",
            "route",
            "framework_name",
            "framework_reference",
            "ordering_process_followed",
            "is_compliant_route",
            "framework_ceiling",
            "framework_end_date",
            "is_awarded",
            "award",
            "value_ceiling",
            "committed",
            "start_date",
            "end_date",
        ]


class PurchaseOrderLineSerializer(CommercialFieldsMixin, serializers.Serializer):
    commercial_fields = ("unit_price", "vat_rate", "net_total", "vat_total", "gross_total")
    id = serializers.IntegerField(read_only=True)
    device_model = serializers.IntegerField(source="device_model_id", read_only=True)
    quantity = serializers.IntegerField(read_only=True)
    unit_price = commercial_money(max_digits=12)
    vat_rate = serializers.DecimalField(
        max_digits=5, decimal_places=4, required=False, help_text=COMMERCIAL_NOTE
    )
    net_total = commercial_money()
    vat_total = commercial_money()
    gross_total = commercial_money()


class ApprovalRecordSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApprovalRecord
        fields = ["kind", "reference", "note", "recorded_at"]


class PurchaseOrderSerializer(CommercialFieldsMixin, serializers.ModelSerializer):
    commercial_fields = ("net_total", "vat_total", "gross_total", "committed_total")
    net_total = commercial_money()
    vat_total = commercial_money()
    gross_total = commercial_money()
    committed_total = commercial_money()
    financial_year = serializers.CharField(source="budget_line.financial_year", read_only=True)
    category = serializers.CharField(source="budget_line.category", read_only=True)
    business_unit_code = serializers.CharField(source="business_unit.code", read_only=True)
    lines = PurchaseOrderLineSerializer(many=True, read_only=True)
    approval_records = ApprovalRecordSerializer(many=True, read_only=True)

    class Meta:
        model = PurchaseOrder
        fields = [
            "id",
            "reference",
            "status",
            "budget_line",
            "financial_year",
            "category",
            "supplier",
            "contract",
            "business_unit",
            "business_unit_code",
            "description",
            "net_total",
            "vat_total",
            "gross_total",
            "committed_total",
            "approved_on",
            "returned_reason",
            "cancellation_reason",
            "lines",
            "approval_records",
        ]
        read_only_fields = fields


class PurchaseOrderLineInputSerializer(serializers.Serializer):
    device_model = serializers.IntegerField()
    quantity = serializers.IntegerField(min_value=1)
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0"))
    vat_rate = serializers.DecimalField(
        max_digits=5,
        decimal_places=4,
        min_value=Decimal("0"),
        max_value=Decimal("1"),
        default=Decimal("0.2"),
    )


class PurchaseOrderCreateSerializer(serializers.Serializer):
    budget_line = serializers.IntegerField()
    supplier = serializers.IntegerField()
    contract = serializers.IntegerField(required=False, allow_null=True)
    business_unit = serializers.IntegerField()
    description = serializers.CharField(required=False, allow_blank=True, max_length=500)
    lines = PurchaseOrderLineInputSerializer(many=True, allow_empty=False)


class ApprovalRecordInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ApprovalRecord.Kind.choices)
    reference = serializers.CharField(max_length=100)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True)


class ContractAwardInputSerializer(serializers.Serializer):
    compliant_route = serializers.CharField(max_length=300)
    dsp_consent_reference = serializers.CharField(max_length=100)
    dsp_consent_on = serializers.DateField()
    awarded_on = serializers.DateField(required=False)
    dmpc_notified_on = serializers.DateField(required=False, allow_null=True)
    dmpc_called_in = serializers.BooleanField(required=False, allow_null=True, default=None)
    dmpc_decision_reference = serializers.CharField(
        max_length=100, required=False, allow_blank=True
    )
