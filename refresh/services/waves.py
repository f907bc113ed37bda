"""Waves and swaps: selecting due devices into a wave, and each swap's steps."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.scoping import UnitScope
from core.errors import DomainError
from devices import services as device_services
from devices.models import Device, DeviceEvent
from refresh.models import ATConfirmation, DeviceEligibility, RefreshWave, WaveItem
from refresh.selectors.forecast_engine import CATEGORIES
from refresh.selectors.waves import allocatable_devices, is_central_store

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
    if volume is None or volume < 1:
        raise DomainError("Volume must be at least 1.", field="volume")
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


def swap_confirm_at(*, item: WaveItem, actor, note: str) -> ATConfirmation:
    """Record that the person's AT and accessibility tools work on the new device."""
    if not note or not note.strip():
        raise DomainError("Say what was checked.", field="note")
    with transaction.atomic():
        locked = _lock_item(item)
        if locked.status not in (WaveItem.Status.HANDED_OVER, WaveItem.Status.RETURNED):
            raise DomainError(
                "AT can be confirmed only once the new device is handed over.", field="note"
            )
        if ATConfirmation.objects.filter(wave_item=locked).exists():
            raise DomainError("AT is already confirmed for this swap.", field="note")
        confirmation = ATConfirmation(
            wave_item=locked, confirmed_by=actor, confirmed_at=timezone.now(), note=note.strip()
        )
        confirmation.full_clean()
        confirmation.save()
    return confirmation


def swap_complete(*, item: WaveItem, actor=None) -> WaveItem:
    """Complete a swap: the old device moves to returned (ready for disposals)
    and both devices get a lifecycle event (source ``wave:<id>``).

    Business case: a swap for someone with assistive-technology needs is not
    complete until their AT is confirmed working on the new device.
    """
    with transaction.atomic():
        locked = _lock_item(item)
        if locked.status != WaveItem.Status.RETURNED:
            _move(locked, WaveItem.Status.COMPLETED)  # raises with the reason
        if locked.person.at_needs and not ATConfirmation.objects.filter(wave_item=locked).exists():
            raise DomainError(
                f"{locked.person} has assistive-technology needs: confirm their AT works on "
                "the new device before completing the swap.",
                field="at_confirmation",
                code="at_confirmation_required",
            )
        source = f"wave:{locked.wave_id}"
        device_services.device_transition(
            device=locked.old_device,
            to_status=Device.Status.RETURNED,
            actor=actor,
            kind=DeviceEvent.Kind.RETURNED,
            source=source,
            details={"refresh_swap": locked.pk, "replaced_by": str(locked.new_device)},
        )
        device_services.device_event_record(
            device=locked.new_device,
            kind=DeviceEvent.Kind.NOTE,
            actor=actor,
            source=source,
            details={
                "refresh_swap": locked.pk,
                "replaces": str(locked.old_device),
                "note": "refresh swap completed",
            },
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
