"""A digest of the demo estate's content, to prove the same seed gives the same estate."""

from __future__ import annotations

import hashlib

from devices.models import Device, DeviceEvent, Person


def estate_digest() -> str:
    """A SHA-256 over the estate's content (not its ids or write times), for proving
    that the same seed gives the same estate. Reads in id order, streamed."""
    h = hashlib.sha256()
    for row in (
        Person.objects.order_by("staff_number")
        .values_list(
            "staff_number",
            "business_unit__code",
            "role_profile__code",
            "at_needs",
            "at_note",
            "start_date",
            "leaver_date",
        )  # fmt: skip
        .iterator(chunk_size=5000)
    ):
        h.update(repr(row).encode())
    for row in (
        Device.objects.order_by("asset_tag")
        .values_list(
            "asset_tag",
            "serial_number",
            "manufacturer__name",
            "device_model__name",
            "status",
            "business_unit__code",
            "assigned_to__staff_number",
            "location",
            "purchase_date",
            "warranty_expires",
            "purchase_cost",
            "last_seen",
            "os_version",
        )  # fmt: skip
        .iterator(chunk_size=5000)
    ):
        h.update(repr(row).encode())
    for row in (
        DeviceEvent.objects.order_by("device__asset_tag", "occurred_at", "kind")
        .values_list(
            "device__asset_tag", "kind", "occurred_at", "from_status", "to_status", "details"
        )  # fmt: skip
        .iterator(chunk_size=5000)
    ):
        h.update(repr(row).encode())
    return h.hexdigest()
