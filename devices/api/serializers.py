"""Serializers for the estate API.

Field names follow the import columns where they overlap (serial_number,
manufacturer, model, category, business_unit (code), asset_tag, assigned_to
(staff number), status, purchase_date, warranty_expires, purchase_cost,
location, last_seen, os_version), so a row that imports also posts.
Commercial figures (unit_price, purchase_cost) are dropped from responses
unless the caller may see OFFICIAL-SENSITIVE [COMMERCIAL] data.
"""

from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from accounts.models import BusinessUnit
from accounts.redaction import redact_commercial
from api.commercial import CommercialFieldsMixin
from devices.models import Category, Device, DeviceEvent, DeviceModel, Person
from devices.services import SERIAL_OR_TAG_REQUIRED

COMMERCIAL_NOTE = (
    "OFFICIAL-SENSITIVE [COMMERCIAL]: present only for finance and commercial roles; "
    "omitted for everyone else."
)
NOT_FOUND = "not found"


class StrictInputMixin:
    """Refuse fields the endpoint does not take, rather than silently dropping them."""

    # Fields that exist on the resource but are changed elsewhere, with the reason.
    refused_fields: dict[str, str] = {}

    def to_internal_value(self, data):
        if isinstance(data, dict):
            errors = {}
            for name in data:
                if name in self.refused_fields:
                    errors[name] = [self.refused_fields[name]]
                elif name not in self.fields or self.fields[name].read_only:
                    errors[name] = ["Unknown field."]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


def _scoped_unit(request, code: str) -> BusinessUnit:
    """A business unit by code, if inside the caller's scope. Outside it, the
    answer is the same as for a code that does not exist."""
    unit = BusinessUnit.objects.visible_to(request.user).filter(code=code).first()
    if unit is None:
        raise serializers.ValidationError(NOT_FOUND)
    return unit


def _scoped_person(request, staff_number: str) -> Person:
    person = (
        Person.objects.visible_to(request.user)
        .filter(staff_number=staff_number)
        .select_related("role_profile")
        .first()
    )
    if person is None:
        raise serializers.ValidationError(NOT_FOUND)
    return person


# --- Devices ---------------------------------------------------------------


class DeviceSerializer(CommercialFieldsMixin, serializers.ModelSerializer):
    """A device as the API shows it."""

    commercial_fields = ("purchase_cost",)

    manufacturer = serializers.CharField(source="manufacturer.name", read_only=True)
    model = serializers.CharField(source="device_model.name", read_only=True)
    model_id = serializers.IntegerField(source="device_model_id", read_only=True)
    category = serializers.ChoiceField(
        source="device_model.category", choices=Category.choices, read_only=True
    )
    business_unit = serializers.CharField(source="business_unit.code", read_only=True)
    assigned_to = serializers.CharField(
        source="assigned_to.staff_number", read_only=True, allow_null=True
    )
    # Not read_only, so the schema lists it as optional: it is absent for most roles.
    purchase_cost = serializers.DecimalField(
        max_digits=12, decimal_places=2, allow_null=True, required=False, help_text=COMMERCIAL_NOTE
    )
    etag = serializers.CharField(read_only=True, help_text="The ETag to send in If-Match.")

    class Meta:
        model = Device
        fields = [
            "id",
            "serial_number",
            "manufacturer",
            "model",
            "model_id",
            "category",
            "business_unit",
            "asset_tag",
            "assigned_to",
            "status",
            "purchase_date",
            "warranty_expires",
            "purchase_cost",
            "location",
            "last_seen",
            "os_version",
            "version",
            "etag",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [f for f in fields if f != "purchase_cost"]

    def to_representation(self, device):
        """The declared fields' output, built directly.

        The device list serialises 100 devices a page at a 25 ms budget, and DRF's
        generic per-field walk was half of it. Dates, date-times and money still go
        through the declared fields' own ``to_representation``, so formats (time
        zone, 'Z', decimal places) are DRF's; ``test_fast_representation_matches``
        checks the output equals the generic path's.
        """
        fields = self.fields
        date_out = fields["purchase_date"].to_representation
        # DRF's DateTimeField output: the current time zone, ISO 8601, "+00:00" as
        # "Z". Looking the zone up once per serializer rather than per value is
        # what makes this fast.
        tz = self.__dict__.get("_output_tz")
        if tz is None:
            tz = self.__dict__["_output_tz"] = timezone.get_current_timezone()

        def datetime_out(value):
            text = value.astimezone(tz).isoformat()
            return text[:-6] + "Z" if text.endswith("+00:00") else text

        data = {
            "id": device.id,
            "serial_number": device.serial_number,
            "manufacturer": device.manufacturer.name,
            "model": device.device_model.name,
            "model_id": device.device_model_id,
            "category": device.device_model.category,
            "business_unit": device.business_unit.code,
            "asset_tag": device.asset_tag,
            "assigned_to": device.assigned_to.staff_number if device.assigned_to_id else None,
            "status": device.status,
            "purchase_date": date_out(device.purchase_date) if device.purchase_date else None,
            "warranty_expires": (
                date_out(device.warranty_expires) if device.warranty_expires else None
            ),
        }
        if "purchase_cost" in fields:
            cost = device.purchase_cost
            data["purchase_cost"] = (
                None if cost is None else fields["purchase_cost"].to_representation(cost)
            )
        data["location"] = device.location
        data["last_seen"] = datetime_out(device.last_seen) if device.last_seen else None
        data["os_version"] = device.os_version
        data["version"] = device.version
        data["etag"] = device.etag
        data["created_at"] = datetime_out(device.created_at)
        data["updated_at"] = datetime_out(device.updated_at)
        return data


class _DeviceWritableFields(serializers.Serializer):
    asset_tag = serializers.CharField(
        max_length=64, required=False, allow_null=True, allow_blank=True
    )
    location = serializers.CharField(max_length=200, required=False, allow_blank=True)
    purchase_date = serializers.DateField(required=False, allow_null=True)
    warranty_expires = serializers.DateField(required=False, allow_null=True)
    purchase_cost = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=0,
        required=False,
        allow_null=True,
        help_text='Exact decimal; send it as a string ("1234.56") to avoid float rounding.',
    )
    last_seen = serializers.DateTimeField(required=False, allow_null=True)
    os_version = serializers.CharField(max_length=100, required=False, allow_blank=True)

    def validate_asset_tag(self, value):
        # Asset tags are unique when present; blank means none.
        value = (value or "").strip()
        return value or None

    def validate_business_unit(self, value):
        return _scoped_unit(self.context["request"], value)


class DeviceCreateSerializer(StrictInputMixin, _DeviceWritableFields):
    """A new device. Unknown manufacturer/model names create the model, as the importer does."""

    serial_number = serializers.CharField(
        max_length=100,
        trim_whitespace=True,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="Optional when the device has an asset tag: leave it out for a device "
        "whose serial number was never recorded (the device page shows it as Not recorded).",
    )
    manufacturer = serializers.CharField(max_length=100)
    model = serializers.CharField(max_length=200)
    category = serializers.ChoiceField(choices=Category.choices)
    business_unit = serializers.CharField(max_length=32, help_text="Business unit code.")
    assigned_to = serializers.CharField(
        max_length=32,
        required=False,
        allow_null=True,
        help_text="Staff number; the device must then be deployed or in repair, "
        "and the person's entitlement is checked.",
    )
    status = serializers.ChoiceField(
        choices=Device.Status.choices, required=False, default=Device.Status.IN_STOCK
    )

    def validate_assigned_to(self, value):
        if not value:
            return None
        return _scoped_person(self.context["request"], value)

    def validate_serial_number(self, value):
        return value or None  # blank: not recorded

    def validate(self, attrs):
        # A device is known by its serial number or its asset tag (CHECK
        # devices_device_serial_or_tag); both fields are named, since either will do.
        if not attrs.get("serial_number") and not attrs.get("asset_tag"):
            raise serializers.ValidationError(
                dict.fromkeys(("serial_number", "asset_tag"), [SERIAL_OR_TAG_REQUIRED])
            )
        return attrs


class DeviceUpdateSerializer(StrictInputMixin, _DeviceWritableFields):
    """A partial update. Status and assignment change through events; identity never."""

    refused_fields = {
        "status": "Change the status by posting an event to /api/v1/devices/{id}/events/.",
        "assigned_to": "Deploy or return the device by posting an event to "
        "/api/v1/devices/{id}/events/.",
        "serial_number": "The serial number identifies the device and cannot change.",
        "manufacturer": "The manufacturer identifies the device and cannot change.",
        "model": "The model cannot change; register the device again if it was wrong.",
        "category": "The category comes from the model and cannot change here.",
    }
    business_unit = serializers.CharField(
        max_length=32, required=False, help_text="Business unit code."
    )


# --- Events ----------------------------------------------------------------


class DeviceEventSerializer(serializers.ModelSerializer):
    """An entry in a device's lifecycle log (append-only).

    ``details`` holds what the event's writer recorded, which may include values of
    commercial fields (an update's old and new ``purchase_cost``): they pass through
    ``accounts.redaction.redact_commercial`` with the caller, so only finance and
    commercial roles receive them. Without a request in the context nothing
    commercial is shown (fail closed)."""

    recorded_by = serializers.CharField(
        source="recorded_by.username", read_only=True, allow_null=True
    )
    device = serializers.IntegerField(source="device_id", read_only=True)
    details = serializers.JSONField(
        read_only=True,
        help_text='What the event recorded, e.g. `{"changed": {"location": [old, new]}}`. '
        "Commercial values (purchase_cost and other costs, prices and values) are "
        "OFFICIAL-SENSITIVE [COMMERCIAL]: present only for finance and commercial roles; "
        "omitted for everyone else.",
    )

    def to_representation(self, instance):
        data = super().to_representation(instance)
        request = self.context.get("request")
        data["details"] = redact_commercial(
            data.get("details") or {}, user=getattr(request, "user", None)
        )
        return data

    class Meta:
        model = DeviceEvent
        fields = [
            "id",
            "device",
            "kind",
            "occurred_at",
            "from_status",
            "to_status",
            "source",
            "recorded_by",
            "details",
        ]
        read_only_fields = fields


class EventAction:
    """What an integration may post to a device's log, and the services behind each."""

    DEPLOY = "deploy"
    RETURN = "return"
    REPAIR_START = "repair_start"
    REPAIRED = "repaired"
    LOST = "lost"
    FOUND = "found"
    RECLAIM = "reclaim"
    NOTE = "note"
    CHOICES = [
        (DEPLOY, "Deploy to a person (assigned_to; entitlement enforced)"),
        (RETURN, "Returned by its holder"),
        (REPAIR_START, "Sent for repair"),
        (REPAIRED, "Repair completed"),
        (LOST, "Lost or stolen"),
        (FOUND, "Recovered into stock"),
        (RECLAIM, "Back into stock"),
        (NOTE, "A note on the log (note)"),
    ]


class DeviceEventCreateSerializer(StrictInputMixin, serializers.Serializer):
    action = serializers.ChoiceField(choices=EventAction.CHOICES)
    assigned_to = serializers.CharField(
        max_length=32, required=False, help_text="Staff number; required for deploy."
    )
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    reference = serializers.CharField(
        max_length=100, required=False, allow_blank=True, help_text="Your ticket reference."
    )

    def validate_assigned_to(self, value):
        return _scoped_person(self.context["request"], value)

    def validate(self, attrs):
        action = attrs["action"]
        if action == EventAction.DEPLOY and "assigned_to" not in attrs:
            raise serializers.ValidationError({"assigned_to": ["Required to deploy a device."]})
        if action != EventAction.DEPLOY and "assigned_to" in attrs:
            raise serializers.ValidationError({"assigned_to": ["Only a deploy names a person."]})
        if action == EventAction.NOTE and not attrs.get("note"):
            raise serializers.ValidationError({"note": ["A note needs some text."]})
        return attrs


# --- Reference data --------------------------------------------------------


class BusinessUnitSerializer(serializers.ModelSerializer):
    """A unit of the organisation; ``path`` is its place in the tree."""

    parent = serializers.CharField(source="parent.code", read_only=True, allow_null=True)

    class Meta:
        model = BusinessUnit
        fields = ["id", "code", "name", "parent", "level", "path", "cost_centre", "active"]
        read_only_fields = fields


class PersonSerializer(serializers.ModelSerializer):
    """A holder of devices: the minimum personal data."""

    business_unit = serializers.CharField(source="business_unit.code", read_only=True)
    role_profile = serializers.CharField(source="role_profile.code", read_only=True)

    class Meta:
        model = Person
        # Personal data kept to the minimum the integrations need.
        fields = [
            "staff_number",
            "business_unit",
            "role_profile",
            "at_needs",
            "start_date",
            "leaver_date",
        ]
        read_only_fields = fields


class DeviceModelSerializer(CommercialFieldsMixin, serializers.ModelSerializer):
    """A catalogue entry; unit_price only for finance and commercial roles."""

    commercial_fields = ("unit_price",)

    manufacturer = serializers.CharField(source="manufacturer.name", read_only=True)
    model = serializers.CharField(source="name", read_only=True)
    unit_price = serializers.DecimalField(
        max_digits=12, decimal_places=2, allow_null=True, required=False, help_text=COMMERCIAL_NOTE
    )

    class Meta:
        model = DeviceModel
        fields = ["id", "manufacturer", "model", "category", "end_of_support", "unit_price"]
        read_only_fields = ["id", "manufacturer", "model", "category", "end_of_support"]


# --- Bulk ------------------------------------------------------------------


class BulkDeviceItemSerializer(serializers.Serializer):
    """One device in a bulk upsert: the import columns, values as the importer reads them.

    An absent key or "" leaves the stored value as it is; JSON null clears it
    (the required columns and status cannot be cleared)."""

    serial_number = serializers.CharField(
        required=False,
        help_text="With the manufacturer, what matches an existing device. An item without "
        "one is matched on asset_tag instead (and must name an existing device); an item "
        "whose serial number and asset tag name different devices is an error naming both.",
    )
    manufacturer = serializers.CharField()
    model = serializers.CharField()
    category = serializers.ChoiceField(choices=Category.choices)
    business_unit = serializers.CharField(help_text="Business unit code.")
    asset_tag = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text="Unique across the estate; matches the device when serial_number is absent.",
    )
    assigned_to = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, help_text="Staff number."
    )
    status = serializers.ChoiceField(choices=Device.Status.choices, required=False)
    purchase_date = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text="ISO 8601 or UK day/month/year.",
    )
    warranty_expires = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    purchase_cost = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text="1234.56, 1,234.56 or £1,234.56.",
    )
    location = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    last_seen = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    os_version = serializers.CharField(required=False, allow_blank=True, allow_null=True)


class BulkRequestSerializer(serializers.Serializer):
    devices = BulkDeviceItemSerializer(
        many=True, help_text="Up to API_BULK_MAX_ITEMS devices (5,000 by default)."
    )
    record_exceptions = serializers.BooleanField(
        required=False,
        default=False,
        help_text="First migration of an existing estate (asset managers only; a 403 for "
        "other roles): an item that would put a person past their role's entitlement is kept "
        "and an entitlement exception awaiting review is recorded for it, instead of the item "
        "being refused with the code entitlement_exceeded.",
    )


class BulkItemResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position in the request, from 0.")
    outcome = serializers.ChoiceField(choices=["created", "updated", "unchanged", "error"])
    device_id = serializers.IntegerField(allow_null=True)
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Field name to messages; empty unless outcome is error.",
    )
    codes = serializers.DictField(
        child=serializers.CharField(),
        help_text="Field name to a machine-readable reason (disposal_needs_case, "
        "entitlement_exceeded, in_use, not_found, required, not_clearable...), where "
        "the refusal has one.",
    )


class BulkCountsSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    error = serializers.IntegerField()


class BulkResponseSerializer(serializers.Serializer):
    counts = BulkCountsSerializer()
    results = BulkItemResultSerializer(many=True)


# --- The error shape, for the schema ---------------------------------------


class ErrorBodySerializer(serializers.Serializer):
    status = serializers.IntegerField()
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Field (or header) name to messages.",
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorBodySerializer()
