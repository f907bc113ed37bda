"""Waves: selecting due devices into a wave (each swap's steps: ``refresh.services.swaps``)."""

from __future__ import annotations

from django.db import transaction

from accounts.scoping import UnitScope
from core.errors import DomainError
from devices.models import Device
from refresh.models import MAX_PRIORITY, MAX_WAVE_VOLUME, DeviceEligibility, RefreshWave, WaveItem
from refresh.selectors.forecast_engine import CATEGORIES


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
