"""API shapes for disposals (thin: the services hold the rules)."""

from rest_framework import serializers

from disposals.models import Route, RouteOverrideSignOff, SanitisationRecord


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


class RouteReviewSerializer(serializers.Serializer):
    """A finance or commercial officer's decision on an override request."""

    outcome = serializers.ChoiceField(choices=RouteOverrideSignOff.Outcome.choices)
    decided_by = serializers.CharField(allow_null=True)
    decided_as = serializers.CharField(help_text="finance or commercial")
    decided_at = serializers.DateTimeField()
    reason = serializers.CharField(
        allow_blank=True, help_text="Why it was rejected; empty if signed off"
    )


class RouteOverrideSerializer(serializers.Serializer):
    """An asset manager's override of the suggested route, and its review."""

    requested_route = serializers.ChoiceField(choices=Route.choices)
    reason = serializers.CharField()
    requested_by = serializers.CharField(allow_null=True)
    requested_at = serializers.DateTimeField()
    needs_sign_off = serializers.BooleanField(
        help_text="An override of a suggested resale waits for a finance or commercial officer"
    )
    status = serializers.ChoiceField(
        choices=["awaiting_sign_off", "signed_off", "rejected", "not_needed"]
    )
    review = RouteReviewSerializer(
        required=False, help_text="Absent while the override awaits its review, or needs none"
    )


class RouteDecisionSerializer(serializers.Serializer):
    suggested_route = serializers.ChoiceField(choices=Route.choices)
    suggestion_reason = serializers.CharField()
    route = serializers.ChoiceField(
        choices=Route.choices,
        allow_null=True,
        help_text="The route taken; null while an override awaits its review",
    )
    decided_at = serializers.DateTimeField()
    decided_by = serializers.CharField(allow_null=True)
    override = RouteOverrideSerializer(
        required=False, help_text="Absent when the suggested route was accepted"
    )


class RouteSerializer(serializers.Serializer):
    device_id = serializers.IntegerField()
    case_status = serializers.CharField(allow_null=True)
    grade = serializers.CharField(allow_null=True)
    estimated_value = serializers.CharField(
        required=False,
        help_text="OFFICIAL-SENSITIVE [COMMERCIAL]: finance and commercial roles only",
    )
    route_decision = RouteDecisionSerializer(
        required=False, help_text="Absent until the device's route is decided or requested"
    )
    classification = serializers.CharField()


class RouteOverrideRejectSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=500, help_text="Why the override is rejected (shown on the custody record)"
    )


class CustodySerializer(serializers.Serializer):
    device = serializers.DictField()
    case = serializers.DictField(allow_null=True)
    sanitisation_records = SanitisationRecordOutSerializer(many=True)
    assessment = serializers.DictField(allow_null=True)
    route_decision = RouteDecisionSerializer(
        required=False, help_text="Absent until the device's route is decided or requested"
    )
    consignment = serializers.DictField(allow_null=True)
    events = CustodyEventSerializer(many=True)
    classification = serializers.CharField()
