"""Writes to the estate: makers and models, and devices (received into stock,
registered, deployed and reassigned within entitlement, moved one status at a
time by ``device_transition``, repaired, updated), each device write with its
event. Set-based status moves live with their callers (the importer's upsert,
the disposal services), under the same ``ALLOWED_TRANSITIONS``."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from accounts.models import BusinessUnit
from core.errors import DomainError
from devices.errors import TransitionNotAllowed
from devices.models import (
    ALLOWED_TRANSITIONS,
    Device,
    DeviceEvent,
    DeviceModel,
    Entitlement,
    EntitlementException,
    Manufacturer,
    Person,
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


# Statuses in which a device counts against its holder's entitlement.
HELD_STATUSES = (Device.Status.DEPLOYED, Device.Status.IN_REPAIR)


def entitlement_allowance(*, person, category: str, on_date=None) -> int:
    """How many devices of ``category`` a person may hold: role entitlement plus
    approved, unexpired exceptions."""
    on_date = on_date or timezone.localdate()
    base = (
        Entitlement.objects.filter(role_profile_id=person.role_profile_id, category=category)
        .values_list("quantity", flat=True)
        .first()
    ) or 0
    extra = (
        (
            EntitlementException.objects.filter(person=person, category=category)
            .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=on_date))
            .aggregate(n=Sum("extra_quantity"))["n"]
        )
        or 0
    )
    return base + extra


def entitlement_check(*, person, category: str, replacing: Device | None = None) -> None:
    """Refuse a deployment that would leave ``person`` above their entitlement.

    ``replacing`` is the device a refresh swap takes back, which does not count:
    the person holds both only for the length of the handover.
    """
    held = Device.objects.filter(
        assigned_to=person, status__in=HELD_STATUSES, device_model__category=category
    )
    if replacing is not None:
        held = held.exclude(pk=replacing.pk)
    count = held.count()
    allowance = entitlement_allowance(person=person, category=category)
    if count + 1 > allowance:
        raise DomainError(
            f"{person} already holds {count} {category}(s) and the role allows {allowance}; "
            "record an entitlement exception with a reason and an approver first.",
            field="assigned_to",
            code="entitlement_exceeded",
        )


def device_deploy(
    *,
    device: Device,
    person,
    actor=None,
    source: str = "",
    replacing: Device | None = None,
    details=None,
) -> Device:
    """Deploy a device to a person, enforcing the role's entitlement (strict
    deployment policy, business case: "a strict policy for deployment").

    The person row is locked so two concurrent deployments to the same person
    cannot both pass the entitlement count.
    """
    with transaction.atomic():
        Person.objects.select_for_update().filter(pk=person.pk).first()
        if device.status == Device.Status.DEPLOYED and device.assigned_to_id == person.pk:
            raise DomainError(
                f"Device {device} is already deployed to {person}.",
                field="assigned_to",
                code="already_deployed",
            )
        entitlement_check(person=person, category=device.device_model.category, replacing=replacing)
        if device.status == Device.Status.DEPLOYED:
            # Moving a deployed device to someone else is a reassignment, not a transition.
            return device_reassign(device=device, person=person, actor=actor, source=source)
        return device_transition(
            device=device,
            to_status=Device.Status.DEPLOYED,
            assigned_to=person,
            actor=actor,
            kind=DeviceEvent.Kind.DEPLOYED,
            source=source,
            details=details,
        )


def device_reassign(*, device: Device, person, actor=None, source: str = "") -> Device:
    """Hand a deployed device from one person to another (entitlement checked by the caller)."""
    with transaction.atomic():
        locked = Device.objects.select_for_update().get(pk=device.pk)
        if locked.status != Device.Status.DEPLOYED:
            raise TransitionNotAllowed(device=locked, to_status=Device.Status.DEPLOYED)
        previous = locked.assigned_to.staff_number if locked.assigned_to_id else None
        locked.assigned_to = person
        locked.version = F("version") + 1
        locked.save(update_fields=["assigned_to", "version", "updated_at"])
        locked.refresh_from_db()
        device_event_record(
            device=locked,
            kind=DeviceEvent.Kind.REASSIGNED,
            actor=actor,
            source=source,
            details={"from": previous, "to": person.staff_number},
            from_status=locked.status,
            to_status=locked.status,
        )
    return locked


def devices_receive_into_stock(
    *,
    device_model: DeviceModel,
    business_unit: BusinessUnit,
    serial_numbers: list[str],
    purchase_cost,
    purchase_date,
    warranty_expires=None,
    actor=None,
    source: str = "",
    details: dict[str, Any] | None = None,
) -> list[Device]:
    """Create new devices in stock, each with a 'received' event, set-based.

    Serial numbers must be non-blank, unique in the list and new for the
    manufacturer; otherwise nothing is created and the error names the serial.
    """
    cleaned = [s.strip() for s in serial_numbers]
    if any(not s for s in cleaned):
        raise DomainError("A serial number is blank.", field="serial_numbers")
    seen: set[str] = set()
    duplicates = sorted({s for s in cleaned if s in seen or seen.add(s)})
    if duplicates:
        raise DomainError(
            f"Serial numbers repeated: {', '.join(duplicates)}.", field="serial_numbers"
        )
    with transaction.atomic():
        existing = sorted(
            Device.objects.filter(
                manufacturer_id=device_model.manufacturer_id, serial_number__in=cleaned
            ).values_list("serial_number", flat=True)
        )
        if existing:
            raise DomainError(
                f"Already in the estate for {device_model.manufacturer}: {', '.join(existing)}.",
                field="serial_numbers",
            )
        devices = [
            Device(
                serial_number=serial,
                manufacturer_id=device_model.manufacturer_id,
                device_model=device_model,
                status=Device.Status.IN_STOCK,
                business_unit=business_unit,
                purchase_cost=purchase_cost,
                purchase_date=purchase_date,
                warranty_expires=warranty_expires,
            )
            for serial in cleaned
        ]
        for device in devices:
            device.full_clean(
                exclude=["version"], validate_unique=False, validate_constraints=False
            )
        created = Device.objects.bulk_create(devices)
        if not all(d.pk for d in created):  # SQLite before RETURNING support: read the ids back
            created = list(
                Device.objects.filter(
                    manufacturer_id=device_model.manufacturer_id, serial_number__in=cleaned
                )
            )
        now = timezone.now()
        DeviceEvent.objects.bulk_create(
            DeviceEvent(
                device=device,
                kind=DeviceEvent.Kind.RECEIVED,
                occurred_at=now,
                recorded_by=actor,
                source=source,
                to_status=Device.Status.IN_STOCK,
                details=details or {},
            )
            for device in created
        )
    return created


# --- Create and update through the API (and anything else that edits devices) ---


class VersionConflict(DomainError):
    """The device changed since the caller read it (optimistic concurrency)."""

    def __init__(self, *, device_id: int, expected: int):
        super().__init__(
            f"Device {device_id} is no longer at version {expected}; fetch it again and "
            "re-apply your change.",
            field="version",
            code="version_conflict",
        )


# Fields ``device_update`` may change. Status and assignment move only through
# ``device_transition``/``device_deploy`` (events); identity fields never change.
DEVICE_EDITABLE_FIELDS = (
    "asset_tag",
    "business_unit",
    "location",
    "purchase_date",
    "warranty_expires",
    "purchase_cost",
    "last_seen",
    "os_version",
)


def _event_value(value):
    """A JSON-safe rendering of a field value for an event's details."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if hasattr(value, "code"):  # BusinessUnit
        return value.code
    if hasattr(value, "staff_number"):  # Person
        return value.staff_number
    return str(value)


def device_create(
    *,
    manufacturer: Manufacturer,
    device_model: DeviceModel,
    business_unit: BusinessUnit,
    serial_number: str,
    actor=None,
    source: str = "",
    status: str = Device.Status.IN_STOCK,
    assigned_to=None,
    **fields,
) -> Device:
    """Register one device with an 'imported' event naming the source.

    Serial numbers are unique per manufacturer and asset tags unique overall
    (the importer matches devices on the same two keys). A device created already deployed
    to someone passes the same entitlement check as a deployment (strict
    deployment policy, business case).
    """
    unknown = set(fields) - set(DEVICE_EDITABLE_FIELDS)
    if unknown:
        raise DomainError(f"Unknown device field(s): {', '.join(sorted(unknown))}.")
    with transaction.atomic():
        if assigned_to is not None:
            # Same lock as device_deploy: concurrent deployments to one person serialise here.
            Person.objects.select_for_update().filter(pk=assigned_to.pk).first()
            entitlement_check(person=assigned_to, category=device_model.category)
        if Device.objects.filter(
            manufacturer=manufacturer, serial_number=serial_number.strip()
        ).exists():
            raise DomainError(
                f"{manufacturer} serial {serial_number} is already in the estate.",
                field="serial_number",
                code="duplicate",
            )
        device = Device(
            manufacturer=manufacturer,
            device_model=device_model,
            business_unit=business_unit,
            serial_number=serial_number.strip(),
            status=status,
            assigned_to=assigned_to,
            **fields,
        )
        if device.status == Device.Status.DEPLOYED and assigned_to is None:
            raise DomainError(
                "A deployed device must be assigned to a person.", field="assigned_to"
            )
        device.full_clean(exclude=["version"])
        device.save()
        device_event_record(
            device=device,
            kind=DeviceEvent.Kind.IMPORTED,
            actor=actor,
            source=source,
            to_status=device.status,
            details={"assigned_to": assigned_to.staff_number} if assigned_to else {},
        )
    return device


def device_update(
    *, device: Device, changes: dict[str, Any], actor=None, expected_version=None, source=""
) -> tuple[Device, list[str]]:
    """Change a device's editable fields with optimistic concurrency.

    With ``expected_version`` (from the client's ETag) the write is a
    compare-and-swap, ``UPDATE ... WHERE id = %s AND version = %s``: of two
    concurrent updates made from the same version exactly one matches a row and
    the other gets ``VersionConflict``, without holding a lock while the client
    thinks. Without it the row is locked and updated at its current version
    (last writer wins). Returns the device and the changed field names; an
    'updated' event lists each change (old and new value), and nothing is
    written when nothing changed.
    """
    unknown = set(changes) - set(DEVICE_EDITABLE_FIELDS)
    if unknown:
        raise DomainError(
            f"Not editable here: {', '.join(sorted(unknown))}.", field=sorted(unknown)[0]
        )
    with transaction.atomic():
        current = Device.objects.all()
        if expected_version is None:
            current = current.select_for_update()
        current = current.get(pk=device.pk)
        if expected_version is None:
            expected_version = current.version
        changed = {
            name: value
            for name, value in changes.items()
            if getattr(current, Device._meta.get_field(name).attname)
            != (getattr(value, "pk", value) if value is not None else None)
        }
        if not changed:
            if current.version != expected_version:
                raise VersionConflict(device_id=current.pk, expected=expected_version)
            return current, []
        before = {name: getattr(current, name) for name in changed}
        for name, value in changed.items():
            setattr(current, name, value)
        current.full_clean(exclude=["version"])
        now = timezone.now()
        updated = Device.objects.filter(pk=current.pk, version=expected_version).update(
            **changed, version=F("version") + 1, updated_at=now
        )
        if updated != 1:
            raise VersionConflict(device_id=current.pk, expected=expected_version)
        current.version = expected_version + 1
        current.updated_at = now
        device_event_record(
            device=current,
            kind=DeviceEvent.Kind.UPDATED,
            actor=actor,
            source=source,
            details={
                "changed": {
                    name: [_event_value(before[name]), _event_value(changed[name])]
                    for name in sorted(changed)
                }
            },
            from_status=current.status,
            to_status=current.status,
        )
        # A queryset update() skips simple-history's signal: add the history row here.
        Device.history.bulk_history_create(
            [current], update=True, default_user=actor, default_change_reason=source or "update"
        )
    return current, sorted(changed)
