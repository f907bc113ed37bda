from rest_framework import serializers

from refresh.models import DeviceEligibility


class EligibilitySerializer(serializers.ModelSerializer):
    device_id = serializers.IntegerField(read_only=True)
    asset_tag = serializers.CharField(source="device.asset_tag", read_only=True)
    serial_number = serializers.CharField(
        source="device.serial_number", read_only=True, allow_null=True
    )
    business_unit = serializers.CharField(source="business_unit.code", read_only=True)
    policy_lifecycle_months = serializers.IntegerField(
        source="policy.lifecycle_months", read_only=True
    )
    reasons = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = DeviceEligibility
        fields = [
            "device_id",
            "asset_tag",
            "serial_number",
            "business_unit",
            "category",
            "purchase_date",
            "due_date",
            "is_due",
            "reclaim",
            "reasons",
            "repair_count",
            "priority",
            "policy_id",
            "policy_lifecycle_months",
            "computed_at",
        ]
        read_only_fields = fields


class ForecastRowSerializer(serializers.Serializer):
    financial_year = serializers.CharField()
    category = serializers.CharField()
    refresh_volume = serializers.IntegerField()
    bau_volume = serializers.IntegerField()
    volume = serializers.IntegerField()
    funded = serializers.BooleanField(
        help_text="Whether the capital envelope funds this category (the paper's scope: "
        "laptops, desktops, monitors and smartphones). Unfunded demand is never counted "
        "against the envelope."
    )
    cost = serializers.DecimalField(
        max_digits=16,
        decimal_places=2,
        required=False,
        help_text="OFFICIAL-SENSITIVE [COMMERCIAL]: present only for finance and commercial roles.",
    )


class ForecastResponseSerializer(serializers.Serializer):
    classification = serializers.CharField(
        help_text="OFFICIAL, or OFFICIAL-SENSITIVE [COMMERCIAL] when costs are included."
    )
    results = ForecastRowSerializer(many=True)
