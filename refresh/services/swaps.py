"""A swap's steps: allocate a new device, hand it over, take the old one back,
confirm assistive technology, complete, or cancel with a reason.

Every step goes through one function here, whichever door asks (the swap page, the
demo, a future API), so its rules apply everywhere: the status machine
(``SWAP_TRANSITIONS``), the scope of the stock a swap may draw on, entitlement and the
AT check (``devices.services``), the unit move on completion. Each step is recorded
as a ``SwapStep`` (the day it happened, the old device's condition, notes, a
cancellation's reason) in the same transaction as the status move.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from core.errors import DomainError
from devices import services as device_services
from devices.models import ATCheck, Device, DeviceEvent
from refresh.models import MAX_SWAP_NOTES, MAX_SWAP_REASON, SwapStep, WaveItem
from refresh.selectors.waves import (
    allocatable_devices,
    central_store_unit,
    devices_matching_code,
    is_central_store,
    swap_at_check,
)
from refresh.services.validation import raise_validation

S = WaveItem.Status
SWAP_TRANSITIONS: dict[str, frozenset[str]] = {
    S.PLANNED: frozenset({S.ALLOCATED, S.CANCELLED}),
    S.ALLOCATED: frozenset({S.HANDED_OVER, S.PLANNED, S.CANCELLED}),
    S.HANDED_OVER: frozenset({S.RETURNED}),
    S.RETURNED: frozenset({S.COMPLETED}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
}
del S

# The refusal for a device id that is unknown or outside the user's scope.
DEVICE_NOT_FOUND = "Choose a device from stock."
# The longest serial number or asset tag a device has (Device.serial_number).
MAX_CODE_LENGTH = 100

Condition = SwapStep.Condition


def _lock_item(item: WaveItem) -> WaveItem:
    # Lock only the swap row (of=self): the joined new device may be NULL, and
    # PostgreSQL cannot lock the nullable side of an outer join.
    return (
        WaveItem.objects.select_for_update(of=("self",))
        .select_related("person", "old_device", "new_device", "wave")
        .get(pk=item.pk)
    )


def _move(locked: WaveItem, to_status: str) -> None:
    if to_status not in SWAP_TRANSITIONS[locked.status]:
        raise DomainError(
            f"A swap that is {locked.get_status_display().lower()} cannot become "
            f"{WaveItem.Status(to_status).label.lower()}.",
            field="status",
            code="transition_not_allowed",
        )
    locked.status = to_status
    locked.save(update_fields=["status", "new_device", "updated_at"])


def _text(value: str | None, *, field: str, limit: int, what: str) -> str:
    """Free text as stored: stripped, bounded, without NUL (PostgreSQL refuses it)."""
    text = (value or "").strip()
    if "\x00" in text:
        raise DomainError(f"{what} cannot contain a null character.", field=field)
    if len(text) > limit:
        raise DomainError(f"{what} must be {limit:,} characters or fewer.", field=field)
    return text


def _step_date(locked: WaveItem, occurred_on: dt.date | None) -> dt.date:
    """The day a step happened: today when not given; never in the future, never
    before the wave was created or the swap's previous step."""
    today = timezone.localdate()
    if occurred_on is None:
        return today
    if not isinstance(occurred_on, dt.date) or isinstance(occurred_on, dt.datetime):
        raise DomainError("Give the date as a day, month and year.", field="occurred_on")
    if occurred_on > today:
        raise DomainError("The date cannot be in the future.", field="occurred_on")
    earliest = timezone.localdate(locked.wave.created_at)
    previous = SwapStep.objects.filter(item=locked).aggregate(last=Max("occurred_on"))["last"]
    if previous is not None and previous > earliest:
        earliest = previous
        what = "the swap's previous step"
    else:
        what = "the wave was created"
    if occurred_on < earliest:
        raise DomainError(
            f"The date cannot be before {what} ({earliest:%-d %B %Y}).", field="occurred_on"
        )
    return occurred_on


def _record_step(
    locked: WaveItem,
    step: str,
    *,
    actor,
    occurred_on: dt.date,
    notes: str = "",
    condition: str = "",
    reason: str = "",
) -> SwapStep:
    row = SwapStep(
        item=locked,
        step=step,
        occurred_on=occurred_on,
        old_device_condition=condition,
        notes=notes,
        reason=reason,
        new_device_id=locked.new_device_id if step == SwapStep.Step.ALLOCATED else None,
        recorded_by=actor,
        recorded_at=timezone.now(),
    )
    try:
        row.full_clean()
    except ValidationError as exc:
        raise_validation(exc)
    row.save()
    return row


def _condition(value: str, *, required: bool) -> str:
    value = (value or "").strip()
    if not value:
        if required:
            raise DomainError(
                "Choose the condition the old device came back in.", field="old_device_condition"
            )
        return ""
    if value not in Condition.values:
        raise DomainError(
            "Choose a condition from the list.", field="old_device_condition", code="invalid"
        )
    return value


def swap_allocate(
    *,
    item: WaveItem,
    new_device: Device,
    actor=None,
    occurred_on: dt.date | None = None,
    notes: str = "",
) -> WaveItem:
    """Allocate a new device from stock: same category, in stock, held by the
    person's unit or a central store, and not allocated to another swap.

    The device is looked up among those ``actor`` may allocate (their units' and the
    central stores'; the whole estate when there is no actor, as for the demo seed);
    any other is refused exactly as an unknown device is, so the refusal says
    nothing about it.
    """
    notes = _text(notes, field="notes", limit=MAX_SWAP_NOTES, what="Notes")
    devices = allocatable_devices(actor=actor)
    with transaction.atomic():
        locked = _lock_item(item)
        day = _step_date(locked, occurred_on)
        # Lock the stock device so two swaps cannot take the same one.
        device = (
            devices.select_for_update()
            .select_related("device_model", "business_unit")
            .filter(pk=new_device.pk)
            .first()
        )
        if device is None:
            raise DomainError(DEVICE_NOT_FOUND, field="new_device")
        if device.status != Device.Status.IN_STOCK:
            raise DomainError(
                f"{device} is {device.get_status_display().lower()}, not in stock.",
                field="new_device",
            )
        if device.device_model.category != locked.category:
            raise DomainError(
                f"{device} is a {device.device_model.category}, the swap needs a {locked.category}.",
                field="new_device",
            )
        unit_ok = device.business_unit_id == locked.person.business_unit_id or is_central_store(
            device.business_unit
        )
        if not unit_ok:
            raise DomainError(
                f"{device} is held by {device.business_unit.code}, neither the person's unit "
                "nor a central store.",
                field="new_device",
            )
        if (
            WaveItem.objects.filter(new_device=device)
            .exclude(status=WaveItem.Status.CANCELLED)
            .exists()
        ):
            raise DomainError(f"{device} is already allocated to another swap.", field="new_device")
        locked.new_device = device
        _move(locked, WaveItem.Status.ALLOCATED)
        _record_step(locked, SwapStep.Step.ALLOCATED, actor=actor, occurred_on=day, notes=notes)
    return locked


def swap_allocate_by_code(
    *,
    item: WaveItem,
    code: str,
    actor=None,
    occurred_on: dt.date | None = None,
    notes: str = "",
) -> WaveItem:
    """Allocate the device whose serial number or asset tag is ``code``, as a barcode
    scanner types it (or a person does): an exact match among the devices ``actor``
    may allocate (their units and the central stores), then every rule of
    ``swap_allocate``.

    A code matching nothing there is refused in words that say nothing about devices
    elsewhere. Serial numbers are unique per manufacturer only: when two devices
    share one, the one this swap can take is chosen, and if that is still more than
    one the engineer is asked for the asset tag.
    """
    code = (code or "").strip()
    if not code:
        raise DomainError(
            "Scan or type the new device's serial number or asset tag.",
            field="code",
            code="required",
        )
    if len(code) > MAX_CODE_LENGTH or not code.isprintable():
        raise DomainError(
            "A serial number or asset tag is up to 100 letters, digits and signs.",
            field="code",
            code="invalid",
        )
    matches = list(devices_matching_code(code=code, actor=actor)[:10])
    if not matches:
        raise DomainError(
            f"No device with the serial number or asset tag “{code}” in your units or the "
            "central stores.",
            field="code",
            code="not_found",
        )
    if len(matches) > 1:
        usable = [
            d
            for d in matches
            if d.status == Device.Status.IN_STOCK and d.device_model.category == item.category
        ]
        if len(usable) != 1:
            raise DomainError(
                f"More than one device has the serial number “{code}”: scan or type its "
                "asset tag instead.",
                field="code",
                code="ambiguous",
            )
        matches = usable
    try:
        return swap_allocate(
            item=item, new_device=matches[0], actor=actor, occurred_on=occurred_on, notes=notes
        )
    except DomainError as exc:
        # The page asks for a code: the refusal belongs to that field.
        if exc.field == "new_device":
            raise DomainError(exc.message, field="code", code=exc.code) from exc
        raise


def swap_hand_over(
    *,
    item: WaveItem,
    actor=None,
    occurred_on: dt.date | None = None,
    notes: str = "",
    condition: str = "",
) -> WaveItem:
    """Deploy the new device to the person. Entitlement is enforced by
    ``devices.services.device_deploy`` with the old device as the one being
    replaced (business case: "a strict policy for deployment"); a person already
    above their entitlement is refused unless an exception is recorded. The old
    device's condition may be noted here, as the engineer sees it."""
    notes = _text(notes, field="notes", limit=MAX_SWAP_NOTES, what="Notes")
    condition = _condition(condition, required=False)
    with transaction.atomic():
        locked = _lock_item(item)
        if locked.status != WaveItem.Status.ALLOCATED:
            _move(locked, WaveItem.Status.HANDED_OVER)  # raises with the reason
        day = _step_date(locked, occurred_on)
        details = {"refresh_swap": locked.pk, "replacing": str(locked.old_device)}
        if day != timezone.localdate():
            details["handed_over_on"] = day.isoformat()
        device_services.device_deploy(
            device=locked.new_device,
            person=locked.person,
            actor=actor,
            source=f"wave:{locked.wave_id}",
            replacing=locked.old_device,
            details=details,
        )
        _move(locked, WaveItem.Status.HANDED_OVER)
        _record_step(
            locked,
            SwapStep.Step.HANDED_OVER,
            actor=actor,
            occurred_on=day,
            notes=notes,
            condition=condition,
        )
    return locked


def swap_record_return(
    *,
    item: WaveItem,
    condition: str,
    actor=None,
    occurred_on: dt.date | None = None,
    notes: str = "",
) -> WaveItem:
    """The old device is back in the asset team's hands, in the condition the engineer
    records (required: disposals grade and route it from there). Its status changes
    on completion."""
    notes = _text(notes, field="notes", limit=MAX_SWAP_NOTES, what="Notes")
    condition = _condition(condition, required=True)
    with transaction.atomic():
        locked = _lock_item(item)
        _move(locked, WaveItem.Status.RETURNED)
        day = _step_date(locked, occurred_on)
        _record_step(
            locked,
            SwapStep.Step.RETURNED,
            actor=actor,
            occurred_on=day,
            notes=notes,
            condition=condition,
        )
    return locked


def _handed_over_by(locked: WaveItem):
    """Who deployed the new device to the person for this swap, from its chain of
    custody (the deployment event the handover wrote); None when not recorded."""
    event = (
        DeviceEvent.objects.filter(
            device_id=locked.new_device_id,
            kind=DeviceEvent.Kind.DEPLOYED,
            source=f"wave:{locked.wave_id}",
        )
        .select_related("recorded_by")
        .order_by("-occurred_at", "-pk")
        .first()
    )
    return event.recorded_by if event else None


def swap_confirm_at(*, item: WaveItem, actor, note: str) -> ATCheck:
    """Confirm the person's AT and accessibility tools work on the new device.

    Business case (Equality Comments): a refresh swap for someone with assistive-
    technology needs is not complete until their AT is confirmed working. The
    confirmation is the devices ``ATCheck`` of the handover, closed through
    ``devices.services.at_check_confirm``, which refuses the person who deployed the
    device (code ``same_person``): the check is a second pair of eyes. A swap handed
    over before checks were opened at every deployment gets its check opened here,
    naming who handed over, before it is confirmed.
    """
    if not note or not note.strip():
        raise DomainError("Say what was checked.", field="note")
    note = _text(note, field="note", limit=500, what="What was checked")
    with transaction.atomic():
        locked = _lock_item(item)
        if locked.status not in (WaveItem.Status.HANDED_OVER, WaveItem.Status.RETURNED):
            raise DomainError(
                "AT can be confirmed only once the new device is handed over.", field="note"
            )
        if not locked.person.at_needs:
            raise DomainError(
                f"{locked.person} has no assistive-technology needs recorded: there is no AT "
                "to confirm.",
                field="note",
            )
        check = swap_at_check(item=locked)
        if check is None:
            device_services.at_checks_open(
                deployments=[(locked.new_device_id, locked.person_id)],
                deployed_by=_handed_over_by(locked),
            )
            check = swap_at_check(item=locked)
        if check.confirmed_at is not None:
            raise DomainError("AT is already confirmed for this swap.", field="note")
        return device_services.at_check_confirm(check=check, actor=actor, note=note)


def _returned_condition(locked: WaveItem) -> str:
    step = (
        SwapStep.objects.filter(item=locked, step=SwapStep.Step.RETURNED)
        .order_by("-recorded_at", "-pk")
        .first()
    )
    return step.old_device_condition if step else ""


def swap_complete(
    *,
    item: WaveItem,
    actor=None,
    occurred_on: dt.date | None = None,
    notes: str = "",
) -> WaveItem:
    """Complete a swap: the new device joins the person's business unit and location,
    the old device goes back to the central store as returned (ready for disposals),
    and both get a lifecycle event saying where each went and why (source
    ``wave:<id>``); the old device's event carries the condition it came back in.

    Business case: the estate and the stewardship reports count each device where it
    is used ("how well each unit looks after its devices"), so the new device must
    not stay counted in the stores. Person has no location, so the new device takes
    the old device's location (where the person works); the old device takes the
    location the new one left when it came from the store the old one goes to. A
    blank location never replaces a recorded one. With no central store unit the
    swap is refused (code ``no_central_store``) rather than the device sent to a
    guessed unit.

    Business case (Equality Comments): a swap for someone with assistive-technology
    needs is not complete until their AT is confirmed working on the new device:
    the handover's ``devices.ATCheck`` must be confirmed (code
    ``at_confirmation_required``).

    Status moves go through ``devices.services.devices_status_move`` (the one
    set-based mover); the new device's unit and location through
    ``devices.services.device_update``.
    """
    notes = _text(notes, field="notes", limit=MAX_SWAP_NOTES, what="Notes")
    with transaction.atomic():
        locked = _lock_item(item)
        if locked.status != WaveItem.Status.RETURNED:
            _move(locked, WaveItem.Status.COMPLETED)  # raises with the reason
        day = _step_date(locked, occurred_on)
        if locked.person.at_needs:
            check = swap_at_check(item=locked)
            if check is None or check.confirmed_at is None:
                raise DomainError(
                    f"{locked.person} has assistive-technology needs: confirm their AT works "
                    "on the new device before completing the swap.",
                    field="at_check",
                    code="at_confirmation_required",
                )
        # Lock both devices, in pk order, so nothing moves them between the read
        # of their units and locations and the writes below.
        devices = {
            d.pk: d
            for d in Device.objects.select_for_update(of=("self",))
            .select_related("business_unit")
            .filter(pk__in=[locked.old_device_id, locked.new_device_id])
            .order_by("pk")
        }
        old, new = devices[locked.old_device_id], devices[locked.new_device_id]
        store = central_store_unit(preferred=new.business_unit)
        if store is None:
            raise DomainError(
                "There is no central store unit to take the old device back: add the "
                "stores unit (a unit whose code contains STORE or CENTRAL) first.",
                field="old_device",
                code="no_central_store",
            )
        person_unit = locked.person.business_unit
        new_location = old.location or new.location
        old_location = (
            new.location if new.business_unit_id == store.pk and new.location else old.location
        )
        source = f"wave:{locked.wave_id}"
        returned = {
            "refresh_swap": locked.pk,
            "replaced_by": str(new),
            "reason": "refresh swap completed: back to the central store",
            "business_unit": [old.business_unit.code, store.code],
            "location": [old.location, old_location],
        }
        condition = _returned_condition(locked)
        if condition:
            returned["condition"] = Condition(condition).label
        device_services.devices_status_move(
            moves=[(old.pk, old.status)],
            to_status=Device.Status.RETURNED,
            kind=DeviceEvent.Kind.RETURNED,
            actor=actor,
            source=source,
            details={old.pk: returned},
            fields={"business_unit": store, "location": old_location},
        )
        changes = {"business_unit": person_unit, "location": new_location}
        device_services.device_update(device=new, changes=changes, actor=actor, source=source)
        device_services.device_event_record(
            device=new,
            kind=DeviceEvent.Kind.NOTE,
            actor=actor,
            source=source,
            details={
                "refresh_swap": locked.pk,
                "replaces": str(old),
                "note": f"refresh swap completed: moved to {locked.person}'s unit and location",
                "business_unit": [new.business_unit.code, person_unit.code],
                "location": [new.location, new_location],
            },
            from_status=new.status,
            to_status=new.status,
        )
        _move(locked, WaveItem.Status.COMPLETED)
        _record_step(locked, SwapStep.Step.COMPLETED, actor=actor, occurred_on=day, notes=notes)
    return locked


def swap_cancel(
    *,
    item: WaveItem,
    reason: str,
    actor=None,
    occurred_on: dt.date | None = None,
    notes: str = "",
) -> WaveItem:
    """Cancel a swap before handover, saying why (required: a cancelled swap leaves a
    due device unrefreshed, and the next wave's planner needs to know why). An
    allocated stock device is released for another swap."""
    reason = _text(reason, field="reason", limit=MAX_SWAP_REASON, what="The reason")
    if not reason:
        raise DomainError("Say why the swap is cancelled.", field="reason", code="required")
    notes = _text(notes, field="notes", limit=MAX_SWAP_NOTES, what="Notes")
    with transaction.atomic():
        locked = _lock_item(item)
        _move(locked, WaveItem.Status.CANCELLED)
        day = _step_date(locked, occurred_on)
        _record_step(
            locked,
            SwapStep.Step.CANCELLED,
            actor=actor,
            occurred_on=day,
            notes=notes,
            reason=reason,
        )
    return locked
