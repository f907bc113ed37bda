"""Writes to the estate. Every status change goes through ``device_transition``."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Concat, Substr
from django.utils import timezone

from devices.errors import DomainError, TransitionNotAllowed
from devices.models import (
    ALLOWED_TRANSITIONS,
    BusinessUnit,
    Device,
    DeviceEvent,
    DeviceModel,
    Manufacturer,
)

# The event kind written for a plain move into each status.
EVENT_FOR_STATUS = {
    Device.Status.DEPLOYED: DeviceEvent.Kind.DEPLOYED,
    Device.Status.IN_STOCK: DeviceEvent.Kind.RECLAIMED,
    Device.Status.IN_REPAIR: DeviceEvent.Kind.REPAIR_STARTED,
    Device.Status.RETURNED: DeviceEvent.Kind.RETURNED,
    Device.Status.LOST_STOLEN: DeviceEvent.Kind.LOST,
    Device.Status.AWAITING_SANITISATION: DeviceEvent.Kind.RETURNED,
    Device.Status.SANITISED: DeviceEvent.Kind.SANITISATION,
    Device.Status.DISPOSED: DeviceEvent.Kind.DISPOSED,
}


def business_unit_save(*, unit: BusinessUnit) -> BusinessUnit:
    """Save a unit and keep the materialised ``path`` of it and its subtree right.

    A unit cannot be its own ancestor: moving it under one of its descendants is
    refused, since the tree would lose its root.
    """
    with transaction.atomic():
        old_path = None
        if unit.pk:
            old_path = (
                BusinessUnit.objects.select_for_update()
                .filter(pk=unit.pk)
                .values_list("path", flat=True)
                .first()
            )
        parent_path = ""
        if unit.parent_id:
            parent = BusinessUnit.objects.get(pk=unit.parent_id)
            if old_path and parent.path.startswith(old_path):
                raise DomainError(
                    f"{unit.code} cannot sit under {parent.code}, which is inside it.",
                    field="parent",
                )
            parent_path = parent.path
        unit.path = f"{parent_path}{unit.code}/"
        unit.full_clean()
        unit.save()
        if old_path and old_path != unit.path:
            # Re-root the subtree in one statement.
            BusinessUnit.objects.filter(path__startswith=old_path).exclude(pk=unit.pk).update(
                path=Concat(Value(unit.path), Substr("path", len(old_path) + 1))
            )
    return unit


def manufacturer_get_or_create(*, name: str) -> Manufacturer:
    """Manufacturers are matched case-insensitively, so 'DELL' and 'Dell' are one maker."""
    name = name.strip()
    existing = Manufacturer.objects.filter(name__iexact=name).first()
    if existing:
        return existing
    return Manufacturer.objects.create(name=name)


def device_model_get_or_create(
    *, manufacturer: Manufacturer, name: str, category: str
) -> DeviceModel:
    name = name.strip()
    existing = DeviceModel.objects.filter(manufacturer=manufacturer, name__iexact=name).first()
    if existing:
        if existing.category != category:
            raise DomainError(
                f"{manufacturer} {existing.name} is a {existing.category}, not a {category}.",
                field="category",
            )
        return existing
    model = DeviceModel(manufacturer=manufacturer, name=name, category=category)
    model.full_clean()
    model.save()
    return model


def device_event_record(
    *,
    device: Device,
    kind: str,
    actor=None,
    source: str = "",
    details: dict[str, Any] | None = None,
    from_status: str = "",
    to_status: str = "",
    occurred_at=None,
) -> DeviceEvent:
    """Append an event to a device's log. Events are never edited or deleted."""
    event = DeviceEvent(
        device=device,
        kind=kind,
        occurred_at=occurred_at or timezone.now(),
        recorded_by=actor,
        source=source,
        details=details or {},
        from_status=from_status,
        to_status=to_status,
    )
    event.full_clean()
    event.save()
    return event


def device_transition(
    *,
    device: Device,
    to_status: str,
    actor=None,
    kind: str | None = None,
    source: str = "",
    details: dict[str, Any] | None = None,
    assigned_to=None,
    keep_assignment: bool = False,
) -> Device:
    """Move a device to ``to_status`` if the status machine allows it.

    The row is locked for the change so two concurrent moves cannot both read
    the old status; the event and the new status are written in one transaction.
    Leaving use (anything but deployed or in repair) clears the assignment.
    """
    with transaction.atomic():
        locked = Device.objects.select_for_update().get(pk=device.pk)
        if to_status not in ALLOWED_TRANSITIONS.get(locked.status, frozenset()):
            raise TransitionNotAllowed(device=locked, to_status=to_status)
        from_status = locked.status
        locked.status = to_status
        if assigned_to is not None:
            locked.assigned_to = assigned_to
        elif not keep_assignment and to_status not in (
            Device.Status.DEPLOYED,
            Device.Status.IN_REPAIR,
        ):
            locked.assigned_to = None
        if to_status == Device.Status.DEPLOYED and locked.assigned_to is None:
            raise DomainError(
                "A deployed device must be assigned to a person.", field="assigned_to"
            )
        locked.version = F("version") + 1
        locked.full_clean(exclude=["version"])
        locked.save()
        locked.refresh_from_db()
        event_details = dict(details or {})
        if locked.assigned_to_id:
            event_details.setdefault("assigned_to", locked.assigned_to.staff_number)
        device_event_record(
            device=locked,
            kind=kind or EVENT_FOR_STATUS.get(to_status, DeviceEvent.Kind.NOTE),
            actor=actor,
            source=source,
            details=event_details,
            from_status=from_status,
            to_status=to_status,
        )
    # Keep the caller's object current.
    device.status = locked.status
    device.assigned_to = locked.assigned_to
    device.version = locked.version
    return locked


def device_record_repair(
    *, device: Device, actor=None, source: str = "", details=None
) -> DeviceEvent:
    """A completed repair. Repair history feeds eligibility and failure analytics."""
    return device_event_record(
        device=device, kind=DeviceEvent.Kind.REPAIRED, actor=actor, source=source, details=details
    )
