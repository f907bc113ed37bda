"""API shapes for disposals (thin: the services hold the rules)."""

from rest_framework import serializers

from disposals.models import SanitisationRecord


class SanitisationResultInSerializer(serializers.Serializer):
    """One wipe result from a sanitisation tool. Name the device by ``asset_tag``, or
    by ``serial_number`` with ``manufacturer``. ``operator`` and ``verifier`` are the
    technicians' names or staff IDs (they may be contractor staff) and must differ."""

    asset_tag = serializers.CharField(required=False, allow_blank=True, max_length=64)
    serial_number = serializers.CharField(required=False, allow_blank=True, max_length=100)
    manufacturer = serializers.CharField(required=False, allow_blank=True, max_length=100)
    method = serializers.ChoiceField(choices=SanitisationRecord.Method.choices)
    standard = serializers.CharField(max_length=100)
    tool = serializers.CharField(max_length=100)
    tool_version = serializers.CharField(required=False, allow_blank=True, max_length=50)
    operator = serializers.CharField(max_length=100)
    verifier = serializers.CharField(max_length=100)
    performed_at = serializers.DateTimeField()
    result = serializers.ChoiceField(choices=SanitisationRecord.Result.choices)
    certificate_ref = serializers.CharField(max_length=200)

    def validate(self, attrs):
        if not attrs.get("asset_tag") and not (
            attrs.get("serial_number") and attrs.get("manufacturer")
        ):
            raise serializers.ValidationError(
                {"asset_tag": "Give the asset tag, or the serial number and manufacturer."}
            )
        if attrs["operator"].strip().casefold() == attrs["verifier"].strip().casefold():
            raise serializers.ValidationError(
                {"verifier": "The verifier must be a different person from the operator."}
            )
        return attrs


class SanitisationBatchInSerializer(serializers.Serializer):
    # The items are validated one by one in the view so good items are kept and each
    # bad one gets its own errors.
    results = serializers.ListField(child=serializers.DictField(), min_length=1, max_length=1000)


class SanitisationBatchSchemaSerializer(serializers.Serializer):
    """The request as documented in the OpenAPI schema (each item's full shape)."""

    results = SanitisationResultInSerializer(many=True, min_length=1, max_length=1000)


class SanitisationItemOutSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    device = serializers.CharField()
    ok = serializers.BooleanField()
    record_id = serializers.IntegerField(allow_null=True)
    result = serializers.CharField(allow_blank=True)
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class SanitisationBatchOutSerializer(serializers.Serializer):
    recorded = serializers.IntegerField()
    refused = serializers.IntegerField()
    results = SanitisationItemOutSerializer(many=True)


class CustodyEventSerializer(serializers.Serializer):
    occurred_at = serializers.DateTimeField()
    kind = serializers.CharField()
    from_status = serializers.CharField()
    to_status = serializers.CharField()
    recorded_by = serializers.CharField(allow_null=True)
    source = serializers.CharField()
    details = serializers.DictField()


class SanitisationRecordOutSerializer(serializers.ModelSerializer):
    class Meta:
        model = SanitisationRecord
        fields = [
            "id",
            "method",
            "standard",
            "tool",
            "tool_version",
            "operator",
            "verifier",
            "performed_at",
            "result",
            "certificate_ref",
            "recorded_at",
        ]


class CustodySerializer(serializers.Serializer):
    device = serializers.DictField()
    case = serializers.DictField(allow_null=True)
    sanitisation_records = SanitisationRecordOutSerializer(many=True)
    assessment = serializers.DictField(allow_null=True)
    route_decision = serializers.DictField(allow_null=True)
    consignment = serializers.DictField(allow_null=True)
    events = CustodyEventSerializer(many=True)
    classification = serializers.CharField()
