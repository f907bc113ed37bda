"""Writes to the estate: makers and models, and devices (received into stock,
registered, deployed and reassigned within entitlement, moved by the one status
mover ``devices_status_move`` or one at a time by ``device_transition``, repaired,
updated), each device write with its event, and the AT checks deployments open.
Entitlement and its exceptions live in ``devices.entitlement`` and are re-exported
here, since every door calls ``devices.services``."""

from __future__ import annotations

import functools
from typing import Any

from django.db import transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from accounts.models import BusinessUnit
from core.errors import DomainError
from devices.entitlement import (  # noqa: F401 - re-exported: pages, API, importer and other apps call devices.services
    HELD_STATUSES,
    device_key,
    entitlement_allowance,
    entitlement_allowances,
    entitlement_check,
    entitlement_exceeded_message,
    entitlement_exception_approve,
    entitlement_exception_refuse,
    entitlement_exception_request,
    entitlement_holdings,
)
from devices.errors import TransitionNotAllowed
from devices.models import (
    ALLOWED_TRANSITIONS,
    ATCheck,
    Device,
    DeviceEvent,
    DeviceModel,
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


# Statuses that belong to the disposal journey: a device enters them only with a
# disposal case (business case: retired devices are sanitised "before anything
# else", every step on the chain of custody), i.e. only through the disposals app.
DISPOSAL_STATUSES = frozenset(
    {Device.Status.AWAITING_SANITISATION, Device.Status.SANITISED, Device.Status.DISPOSED}
)
# Statuses in which a device has a holder (and, for deployed, must have one).
IN_USE_STATUSES = frozenset({Device.Status.DEPLOYED, Device.Status.IN_REPAIR})


def device_status_move_refusal(
    *, from_status: str, to_status: str, disposal: bool = False
) -> DomainError | None:
    """The one statement of the status rule every door applies: the error refusing a
    move ``from_status`` -> ``to_status``, or ``None`` if it is allowed.

    A move must be in ``ALLOWED_TRANSITIONS``; a move INTO a disposal status needs a
    disposal case, so only the disposals app (``disposal=True``) may make it. The
    mover calls it, and so does the importer's PostgreSQL COPY path, which moves
    rows in SQL and must refuse exactly what the mover refuses.
    """
    labels = dict(Device.Status.choices)
    if to_status not in ALLOWED_TRANSITIONS.get(from_status, frozenset()):
        return DomainError(
            f"A device cannot move from {labels.get(from_status, from_status)} "
            f"to {labels.get(to_status, to_status)}.",
            field="status",
            code="transition_not_allowed",
        )
    if to_status in DISPOSAL_STATUSES and not disposal:
        return DomainError(
            f"A device moves to {labels.get(to_status, to_status)} only through a disposal "
            "case: open a disposal case in Disposals.",
            field="status",
            code="disposal_needs_case",
        )
    return None


def devices_status_move(
    *,
    moves: list[tuple[int, str]],
    to_status: str,
    kind: str,
    actor,
    source: str,
    details: dict[int, dict] | None = None,
    now=None,
    disposal: bool = False,
    fields: dict | None = None,
    holders: dict[int, int | None] | None = None,
) -> int:
    """The one device status mover every door calls (DESIGN "Rules at every door":
    status moves go through one set-based mover in ``devices``).

    ``moves`` are ``(device_id, expected from_status)`` pairs. Each from-status
    is checked by ``device_status_move_refusal`` (``ALLOWED_TRANSITIONS``, and no
    move into a disposal status without ``disposal=True``, which only the
    disposals app passes). The write is a compare-and-swap ``update()`` per
    from-status whose count is checked, so a device someone else moved meanwhile
    fails the whole call with code ``conflict`` (the caller's transaction rolls
    back; rows are never locked while a person thinks). ``fields`` (``assigned_to``,
    ``business_unit``, ``location``...) are set in the same update; leaving use
    clears the holder unless ``fields`` says otherwise, as ``device_transition``
    always has. ``holders`` (device id -> person id) gives devices moving into use
    each their own holder (None: no holder) in the same update, for set-based doors
    that deploy many devices to different people at once (the importer and the bulk
    API); a device it does not name keeps its holder. One ``DeviceEvent`` per device
    and the simple-history rows are written in bulk; a deployment to a person with
    AT needs opens an ``ATCheck``. Returns the number of devices moved.
    """
    if not moves:
        return 0
    now = now or timezone.now()
    details = details or {}
    fields = dict(fields or {})
    forbidden = {"status", "version", "updated_at", "historical"} & set(fields)
    if forbidden:
        raise DomainError(
            f"The mover sets {', '.join(sorted(forbidden))} itself.", field=sorted(forbidden)[0]
        )
    holders = dict(holders or {})
    if holders and ("assigned_to" in fields or to_status not in IN_USE_STATUSES):
        raise DomainError(
            "Holders are given only for a move into use, and not with fields['assigned_to'].",
            field="assigned_to",
        )
    if to_status not in IN_USE_STATUSES and "assigned_to" not in fields:
        fields["assigned_to"] = None
    by_from: dict[str, list[int]] = {}
    for device_id, from_status in moves:
        by_from.setdefault(from_status, []).append(device_id)
    ids = [device_id for device_id, _ in moves]
    if len(set(ids)) != len(ids):
        raise DomainError("A device appears twice in one move.", field="moves")
    for from_status, group in sorted(by_from.items()):
        refusal = device_status_move_refusal(
            from_status=from_status, to_status=to_status, disposal=disposal
        )
        if refusal is not None:
            raise DomainError(
                f"{len(group)} device(s): {refusal.message}", field="status", code=refusal.code
            )
    with transaction.atomic():
        # Deployed implies a holder (and a CHECK constraint says so): moving
        # without naming one keeps the holder, so every device must have one.
        if (
            to_status == Device.Status.DEPLOYED
            and fields.get("assigned_to") is None
            and (
                None in holders.values()
                or Device.objects.filter(
                    pk__in=[pk for pk in ids if pk not in holders], assigned_to__isnull=True
                ).exists()
            )
        ):
            raise DomainError(
                "A deployed device must be assigned to a person.", field="assigned_to"
            )
        for from_status, group in sorted(by_from.items()):
            own = [When(pk=pk, then=Value(holders[pk])) for pk in group if pk in holders]
            if own:
                fields["assigned_to"] = Case(
                    *own, default=F("assigned_to"), output_field=Device.assigned_to.field
                )
            moved = Device.objects.filter(pk__in=group, status=from_status).update(
                status=to_status, version=F("version") + 1, updated_at=now, **fields
            )
            if own:
                del fields["assigned_to"]
            if moved != len(group):
                raise DomainError(
                    "Some devices changed status while you were working; reload and try again.",
                    field="status",
                    code="conflict",
                )
        moved_devices = list(
            Device.objects.filter(pk__in=ids).select_related("assigned_to").order_by("pk")
        )
        holder_of = {d.pk: d.assigned_to.staff_number for d in moved_devices if d.assigned_to_id}
        DeviceEvent.objects.bulk_create(
            DeviceEvent(
                device_id=device_id,
                kind=kind,
                occurred_at=now,
                recorded_by=actor,
                source=source,
                from_status=from_status,
                to_status=to_status,
                details=(
                    {"assigned_to": holder_of[device_id], **details.get(device_id, {})}
                    if device_id in holder_of
                    else dict(details.get(device_id, {}))
                ),
            )
            for device_id, from_status in moves
        )
        # A queryset update() skips simple-history's signal: add the history rows in bulk.
        Device.history.bulk_history_create(
            moved_devices,
            update=True,
            default_user=actor,
            default_change_reason=source or "status move",
            default_date=now,
        )
        if to_status == Device.Status.DEPLOYED:
            at_checks_open(
                deployments=[(d.pk, d.assigned_to_id) for d in moved_devices],
                deployed_by=actor,
                now=now,
            )
    return len(ids)


def at_checks_open(*, deployments: list[tuple[int, int]], deployed_by=None, now=None) -> int:
    """Open a pending ``ATCheck`` for each (device_id, person_id) deployment whose
    person has assistive-technology needs (business case: a refresh for someone with
    AT needs is not complete until their AT is confirmed working). One read of the
    people, one insert. Returns how many were opened."""
    deployments = [(d, p) for d, p in deployments if p]
    if not deployments:
        return 0
    with_needs = set(
        Person.objects.filter(pk__in={p for _, p in deployments}, at_needs=True).values_list(
            "pk", flat=True
        )
    )
    now = now or timezone.now()
    checks = [
        ATCheck(device_id=d, person_id=p, deployed_by=deployed_by, deployed_at=now)
        for d, p in deployments
        if p in with_needs
    ]
    ATCheck.objects.bulk_create(checks)
    return len(checks)


def device_transition(
    *,
    device: Device,
    to_status: str,
    actor=None,
    kind: str | None = None,
    source: str = "",
    details: dict[str, Any] | None = None,
    assigned_to=None,
    disposal: bool = False,
) -> Device:
    """Move one device to ``to_status`` through ``devices_status_move`` (the one
    mover, with its status machine and disposal-case rule).

    The row is locked first so the caller's view of the status is the current
    one and two concurrent moves serialise; the event and the new status are
    written in one transaction. Leaving use (anything but deployed or in repair)
    clears the holder.
    """
    with transaction.atomic():
        locked = Device.objects.select_for_update().get(pk=device.pk)
        refusal = device_status_move_refusal(
            from_status=locked.status, to_status=to_status, disposal=disposal
        )
        if refusal is not None:
            if refusal.code == "transition_not_allowed":
                raise TransitionNotAllowed(device=locked, to_status=to_status)
            raise refusal
        fields = {"assigned_to": assigned_to} if assigned_to is not None else {}
        devices_status_move(
            moves=[(locked.pk, locked.status)],
            to_status=to_status,
            kind=kind or EVENT_FOR_STATUS.get(to_status, DeviceEvent.Kind.NOTE),
            actor=actor,
            source=source,
            details={locked.pk: dict(details or {})},
            disposal=disposal,
            fields=fields,
        )
        locked.refresh_from_db()
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
def at_check_confirm(*, check, actor, note: str):
    """Confirm a person's AT and accessibility tools work on a deployed device
    (business case: a refresh for someone with AT needs is not complete until
    then). Someone other than the deployer confirms (code ``same_person``), with a
    note of what was checked."""
    note = (note or "").strip()
    if not note:
        raise DomainError("Say what was checked.", field="note", code="required")
    with transaction.atomic():
        locked = ATCheck.objects.select_for_update().get(pk=check.pk)
        if locked.confirmed_at is not None:
            raise DomainError("This AT check is already confirmed.", code="conflict")
        if locked.deployed_by_id is not None and locked.deployed_by_id == actor.pk:
            raise DomainError(
                "The AT check is confirmed by someone other than who deployed the device.",
                field="confirmed_by",
                code="same_person",
            )
        locked.confirmed_by = actor
        locked.confirmed_at = timezone.now()
        locked.note = note
        locked.full_clean()
        locked.save()
    check.refresh_from_db()
    return locked


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
        # A new holder is a deployment to them: their AT must be confirmed too.
        at_checks_open(deployments=[(locked.pk, person.pk)], deployed_by=actor)
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


SERIAL_OR_TAG_REQUIRED = (
    "A device needs a serial number or an asset tag (or both): give the asset tag when "
    "the serial number was never recorded."
)


TAG_NEEDED_WITHOUT_SERIAL = (
    "The asset tag cannot be cleared: the device's serial number is not recorded, so its "
    "asset tag is how it is known."
)


def device_create(
    *,
    manufacturer: Manufacturer,
    device_model: DeviceModel,
    business_unit: BusinessUnit,
    serial_number: str | None = None,
    actor=None,
    source: str = "",
    status: str = Device.Status.IN_STOCK,
    assigned_to=None,
    **fields,
) -> Device:
    """Register one device with an 'imported' event naming the source.

    Serial numbers are unique per manufacturer and asset tags unique overall
    (the importer matches devices on the same two keys). A device whose serial
    was never recorded may be registered by its asset tag alone (CHECK
    ``devices_device_serial_or_tag``: it needs one or the other). A device created
    already deployed to someone passes the same entitlement check as a deployment
    (strict deployment policy, business case).
    """
    unknown = set(fields) - set(DEVICE_EDITABLE_FIELDS)
    if unknown:
        raise DomainError(f"Unknown device field(s): {', '.join(sorted(unknown))}.")
    serial_number = (serial_number or "").strip() or None
    if serial_number is None and not (fields.get("asset_tag") or "").strip():
        raise DomainError(SERIAL_OR_TAG_REQUIRED, field="serial_number", code="required")
    if status in DISPOSAL_STATUSES:
        # A live device reaches a disposal status through a disposal case; a device
        # disposed before records began is recorded by an import or bulk row.
        raise DomainError(
            f"A device is registered as {dict(Device.Status.choices)[status]} only through a "
            "disposal case: open a disposal case in Disposals.",
            field="status",
            code="disposal_needs_case",
        )
    with transaction.atomic():
        if assigned_to is not None:
            # Same lock as device_deploy: concurrent deployments to one person serialise here.
            Person.objects.select_for_update().filter(pk=assigned_to.pk).first()
            entitlement_check(person=assigned_to, category=device_model.category)
        if (
            serial_number is not None
            and Device.objects.filter(
                manufacturer=manufacturer, serial_number=serial_number
            ).exists()
        ):
            raise DomainError(
                f"{manufacturer} serial {serial_number} is already in the estate.",
                field="serial_number",
                code="duplicate",
            )
        device = Device(
            manufacturer=manufacturer,
            device_model=device_model,
            business_unit=business_unit,
            serial_number=serial_number,
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
        if device.status == Device.Status.DEPLOYED:
            at_checks_open(deployments=[(device.pk, device.assigned_to_id)], deployed_by=actor)
    return device


@functools.cache
def _not_to_validate(changed: frozenset[str]) -> list[str]:
    """The fields an update's ``full_clean`` leaves out: those it does not change and
    that share no constraint (CHECK or UNIQUE) with a field it changes. Their values
    are the row's, which the database holds valid; validating them again cost a query
    each (every foreign key, unique field and CHECK: 28 of a location change's 38
    queries). A constraint on a changed field is validated with all its fields."""
    validate = set(changed)
    for constraint in Device._meta.constraints:
        condition = getattr(constraint, "condition", None)
        fields = set(getattr(constraint, "fields", ()) or ())
        if condition is not None:
            fields |= set(condition.referenced_base_fields)
        if fields & changed:
            validate |= fields
    return [f.name for f in Device._meta.concrete_fields if f.name not in validate]


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
        if current.serial_number is None and not current.asset_tag:
            # CHECK devices_device_serial_or_tag, in the words of the field at fault.
            raise DomainError(TAG_NEEDED_WITHOUT_SERIAL, field="asset_tag", code="not_clearable")
        current.full_clean(exclude=_not_to_validate(frozenset(changed)))
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
