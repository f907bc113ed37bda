"""Waves and swaps: selecting due devices into a wave, and each swap's steps."""

from __future__ import annotations

from django.db import transaction

from accounts.scoping import UnitScope
from core.errors import DomainError
from devices import services as device_services
from devices.models import ATCheck, Device, DeviceEvent
from refresh.models import MAX_PRIORITY, MAX_WAVE_VOLUME, DeviceEligibility, RefreshWave, WaveItem
from refresh.selectors.forecast_engine import CATEGORIES
from refresh.selectors.waves import (
    allocatable_devices,
    central_store_unit,
    is_central_store,
    swap_at_check,
)

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


def wave_create(
    *,
    name: str,
    volume: int,
    actor,
    business_unit=None,
    category: str = "",
    min_priority: int = 0,
    scope=None,
) -> RefreshWave:
    """Select up to ``volume`` due, deployed devices by priority into a new wave.

    One ordered SELECT over the eligibility table and one bulk INSERT; devices
    already in a live swap are skipped. Each item keeps the policy its
    eligibility was computed with, so a later policy change does not rewrite it.
    Candidates lie inside ``scope`` (the creator's ``UnitScope``; None: the whole
    estate) and, when ``business_unit`` is given, inside that unit's subtree.
    """
    if not name.strip():
        raise DomainError("Give the wave a name.", field="name")
    if volume is None or not 1 <= volume <= MAX_WAVE_VOLUME:
        raise DomainError(f"Volume must be 1 to {MAX_WAVE_VOLUME:,}.", field="volume")
    if min_priority is None or not 0 <= min_priority <= MAX_PRIORITY:
        raise DomainError(f"Minimum priority must be 0 to {MAX_PRIORITY:,}.", field="min_priority")
    if category and category not in CATEGORIES:
        raise DomainError(f"{category!r} is not a category.", field="category")
    with transaction.atomic():
        wave = RefreshWave(
            name=name.strip(),
            volume=volume,
            business_unit=business_unit,
            category=category,
            min_priority=min_priority,
            created_by=actor,
        )
        wave.full_clean()
        wave.save()
        candidates = (
            DeviceEligibility.objects.within(scope)
            .filter(
                is_due=True,
                priority__gte=min_priority,
                device__status=Device.Status.DEPLOYED,
                device__assigned_to__isnull=False,
            )
            .exclude(
                device_id__in=WaveItem.objects.exclude(
                    status__in=[WaveItem.Status.COMPLETED, WaveItem.Status.CANCELLED]
                ).values("old_device_id")
            )
        )
        if business_unit is not None:
            candidates = candidates.within(UnitScope.subtree(business_unit))
        if category:
            candidates = candidates.filter(category=category)
        rows = candidates.order_by("-priority", "device_id").values_list(
            "device_id",
            "device__assigned_to_id",
            "business_unit_id",
            "category",
            "policy_id",
            "priority",
        )[:volume]
        items = WaveItem.objects.bulk_create(
            WaveItem(
                wave=wave,
                old_device_id=device_id,
                person_id=person_id,
                business_unit_id=unit_id,
                category=cat,
                policy_id=policy_id,
                priority=priority,
            )
            for device_id, person_id, unit_id, cat, policy_id, priority in rows
        )
        if not items:
            raise DomainError(
                "No due, deployed device matches these filters; nothing to put in a wave.",
                field="volume",
            )
    return wave


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


def swap_allocate(*, item: WaveItem, new_device: Device, actor=None) -> WaveItem:
    """Allocate a new device from stock: same category, in stock, held by the
    person's unit or a central store, and not allocated to another swap.

    The device is looked up among those ``actor`` may allocate (their units' and the
    central stores'; the whole estate when there is no actor, as for the demo seed);
    any other is refused exactly as an unknown device is, so the refusal says
    nothing about it.
    """
    devices = allocatable_devices(actor=actor)
    with transaction.atomic():
        locked = _lock_item(item)
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
            raise DomainError(f"{device} is not in stock.", field="new_device")
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
    return locked


def swap_hand_over(*, item: WaveItem, actor=None) -> WaveItem:
    """Deploy the new device to the person. Entitlement is enforced by
    ``devices.services.device_deploy`` with the old device as the one being
    replaced (business case: "a strict policy for deployment"); a person already
    above their entitlement is refused unless an exception is recorded."""
    with transaction.atomic():
        locked = _lock_item(item)
        if locked.status != WaveItem.Status.ALLOCATED:
            _move(locked, WaveItem.Status.HANDED_OVER)  # raises with the reason
        device_services.device_deploy(
            device=locked.new_device,
            person=locked.person,
            actor=actor,
            source=f"wave:{locked.wave_id}",
            replacing=locked.old_device,
            details={"refresh_swap": locked.pk, "replacing": str(locked.old_device)},
        )
        _move(locked, WaveItem.Status.HANDED_OVER)
    return locked


def swap_record_return(*, item: WaveItem, actor=None) -> WaveItem:
    """The old device is back in the asset team's hands (status changes on completion)."""
    with transaction.atomic():
        locked = _lock_item(item)
        _move(locked, WaveItem.Status.RETURNED)
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
        return device_services.at_check_confirm(check=check, actor=actor, note=note.strip())


def swap_complete(*, item: WaveItem, actor=None) -> WaveItem:
    """Complete a swap: the new device joins the person's business unit and location,
    the old device goes back to the central store as returned (ready for disposals),
    and both get a lifecycle event saying where each went and why (source
    ``wave:<id>``).

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
    with transaction.atomic():
        locked = _lock_item(item)
        if locked.status != WaveItem.Status.RETURNED:
            _move(locked, WaveItem.Status.COMPLETED)  # raises with the reason
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
        device_services.devices_status_move(
            moves=[(old.pk, old.status)],
            to_status=Device.Status.RETURNED,
            kind=DeviceEvent.Kind.RETURNED,
            actor=actor,
            source=source,
            details={
                old.pk: {
                    "refresh_swap": locked.pk,
                    "replaced_by": str(new),
                    "reason": "refresh swap completed: back to the central store",
                    "business_unit": [old.business_unit.code, store.code],
                    "location": [old.location, old_location],
                }
            },
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
    return locked


def swap_cancel(*, item: WaveItem, actor=None) -> WaveItem:
    """Cancel a swap before handover; an allocated stock device is released."""
    with transaction.atomic():
        locked = _lock_item(item)
        _move(locked, WaveItem.Status.CANCELLED)
    return locked


SWAP_ACTIONS = {
    "hand_over": swap_hand_over,
    "return": swap_record_return,
    "complete": swap_complete,
    "cancel": swap_cancel,
}
