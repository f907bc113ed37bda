"""The upsert's portable write (SQLite and any database without the COPY path):
``bulk_create`` the new devices, ``bulk_update`` the changed ones, then their events."""

from __future__ import annotations

from django.utils import timezone

from devices.importing.rows import (
    PLAIN_FIELDS,
    ParsedRow,
    chunks,
    deployments_of,
    event_details,
)
from devices.importing.validation import Lookups
from devices.models import Device, DeviceEvent
from devices.services import at_checks_open


def write_orm(writes: list[ParsedRow], *, lookups: Lookups, actor, source: str) -> None:
    """The portable path: bulk_create the new devices, bulk_update the changed."""
    now = timezone.now()
    actor_id = getattr(actor, "pk", None)
    created_rows = [row for row in writes if row.outcome == "created"]
    updated_rows = [row for row in writes if row.outcome == "updated"]
    new_devices = []
    for row in created_rows:
        new_devices.append(
            Device(
                manufacturer_id=lookups.makers[row.maker_key],
                version=1,
                created_at=now,
                updated_at=now,
                **row.final,
            )
        )
    if new_devices:
        Device.objects.bulk_create(new_devices, batch_size=500)
        if any(device.pk is None for device in new_devices):  # no RETURNING: read ids back
            ids = {}
            for mid in {d.manufacturer_id for d in new_devices}:
                serials = [
                    d.serial_number
                    for d in new_devices
                    if d.manufacturer_id == mid and d.serial_number is not None
                ]
                for chunk in chunks(serials):
                    for pk, serial in Device.objects.filter(
                        manufacturer_id=mid, serial_number__in=chunk
                    ).values_list("pk", "serial_number"):
                        ids[(mid, serial)] = pk
            # Devices without a recorded serial, by their asset tag (which they must have).
            tags = [d.asset_tag for d in new_devices if d.serial_number is None]
            for chunk in chunks(tags):
                for pk, tag in Device.objects.filter(asset_tag__in=chunk).values_list(
                    "pk", "asset_tag"
                ):
                    ids[("tag", tag)] = pk
            for device in new_devices:
                if device.serial_number is None:
                    device.pk = ids[("tag", device.asset_tag)]
                else:
                    device.pk = ids[(device.manufacturer_id, device.serial_number)]
        for row, device in zip(created_rows, new_devices, strict=True):
            row.device_id = device.pk
    changed_devices = []
    for row in updated_rows:
        device = Device(pk=row.existing["pk"], version=row.existing["version"] + 1, updated_at=now)
        for name, value in row.final.items():
            setattr(device, name, value)
        changed_devices.append(device)
    if changed_devices:
        Device.objects.bulk_update(
            changed_devices,
            fields=[
                # Unchanged except where a row records a serial that was not recorded.
                "serial_number",
                "asset_tag",
                "device_model_id",
                "status",
                "business_unit_id",
                "assigned_to_id",
                *PLAIN_FIELDS,
                "version",
                "updated_at",
            ],
            batch_size=500,
        )
    events = []
    for row in created_rows:
        events.append(
            DeviceEvent(
                device_id=row.device_id,
                kind=DeviceEvent.Kind.IMPORTED,
                occurred_at=now,
                recorded_by_id=actor_id,
                to_status=row.final["status"],
                source=source,
                details=event_details(row),
            )
        )
    for row in updated_rows:
        events.append(
            DeviceEvent(
                device_id=row.device_id,
                kind=DeviceEvent.Kind.UPDATED,
                occurred_at=now,
                recorded_by_id=actor_id,
                from_status=row.existing["status"],
                to_status=row.final["status"],
                source=source,
                details=event_details(row),
            )
        )
    DeviceEvent.objects.bulk_create(events, batch_size=1000)
    at_checks_open(deployments=deployments_of(writes), deployed_by=actor, now=now)
