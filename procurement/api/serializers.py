"""Serializers for the procurement API. Commercial fields (money) are dropped for
callers who may not see them (accounts.roles.can_see_commercial)."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from accounts.roles import can_see_commercial
from procurement.models import (
    ApprovalRecord,
    BudgetLine,
    Contract,
    ContractAward,
    PurchaseOrder,
)


class CommercialFieldsMixin:
    """Removes ``commercial_fields`` unless the request's user may see commercial data."""

    commercial_fields: tuple[str, ...] = ()

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None and not can_see_commercial(request.user):
            for name in self.commercial_fields:
                fields.pop(name, None)
        return fields


class BudgetLineSerializer(serializers.ModelSerializer):
    committed = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True)

    class Meta:
        model = BudgetLine
        fields = ["id", "envelope", "financial_year", "category", "amount", "committed"]


class EnvelopeRowSerializer(serializers.Serializer):
    financial_year = serializers.CharField()
    category = serializers.CharField()
    budget = serializers.DecimalField(max_digits=14, decimal_places=2)
    committed = serializers.DecimalField(max_digits=14, decimal_places=2)
    received = serializers.DecimalField(max_digits=14, decimal_places=2)
    forecast = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    headroom = serializers.DecimalField(max_digits=14, decimal_places=2)
    ordered_volume = serializers.IntegerField()
    received_volume = serializers.IntegerField()


class EnvelopePositionSerializer(serializers.Serializer):
    classification = serializers.CharField()
    envelope = serializers.DictField(allow_null=True)
    total = serializers.DecimalField(max_digits=14, decimal_places=2)
    committed = serializers.DecimalField(max_digits=14, decimal_places=2)
    received = serializers.DecimalField(max_digits=14, decimal_places=2)
    headroom = serializers.DecimalField(max_digits=14, decimal_places=2)
    forecast_available = serializers.BooleanField()
    rows = EnvelopeRowSerializer(many=True)


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


class ContractSerializer(CommercialFieldsMixin, serializers.ModelSerializer):
    commercial_fields = ("value_ceiling", "committed", "framework_ceiling")
    supplier_name = serializers.CharField(source="supplier.name", read_only=True)
    committed = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True)
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
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True)
    vat_rate = serializers.DecimalField(max_digits=5, decimal_places=4, read_only=True)
    net_total = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True)
    vat_total = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True)
    gross_total = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True)


class ApprovalRecordSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApprovalRecord
        fields = ["kind", "reference", "note", "recorded_at"]


class PurchaseOrderSerializer(CommercialFieldsMixin, serializers.ModelSerializer):
    commercial_fields = ("net_total", "vat_total", "gross_total", "committed_total")
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
