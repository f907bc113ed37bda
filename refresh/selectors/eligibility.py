"""Eligibility reads: the scoped, priority-ordered list, one device's row, the
summary counts and the last recomputation."""

from __future__ import annotations

from django.db.models import Count, Q

from accounts.models import BusinessUnit
from accounts.scoping import UnitScope
from refresh.models import DeviceEligibility, EligibilityRun


def last_eligibility_run() -> EligibilityRun | None:
    """The last finished recomputation of the whole estate (partial runs after an
    import cover only the devices it changed)."""
    return EligibilityRun.objects.filter(
        finished_at__isnull=False, partial_device_count__isnull=True
    ).first()


def eligibility_list(
    *,
    user=None,
    scope=None,
    business_unit: BusinessUnit | None = None,
    category: str = "",
    due_only: bool = True,
    reclaim: bool = False,
    after: tuple[int, int] | None = None,
):
    """Eligibility rows in priority order, for keyset pagination on
    (-priority, device_id): ``after`` is the last row's (priority, device_id).

    Scoped to ``scope`` (a ``UnitScope``) when given, else to what ``user`` may see.
    """
    qs = (
        DeviceEligibility.objects.within(scope)
        if scope is not None
        else DeviceEligibility.objects.visible_to(user)
    )
    if business_unit is not None:
        qs = qs.within(UnitScope.subtree(business_unit))
    if category:
        qs = qs.filter(category=category)
    if reclaim:
        qs = qs.filter(reclaim=True)
    elif due_only:
        qs = qs.filter(is_due=True)
    if after is not None:
        priority, device_id = after
        qs = qs.filter(Q(priority__lt=priority) | Q(priority=priority, device_id__gt=device_id))
    return qs.select_related(
        "device", "device__device_model", "device__assigned_to", "business_unit", "policy"
    ).order_by("-priority", "device_id")


def eligibility_for_device(*, user, device_id: int) -> DeviceEligibility | None:
    """One device's eligibility row, or None when it is unknown or outside ``user``'s scope."""
    return (
        DeviceEligibility.objects.visible_to(user)
        .filter(device_id=device_id)
        .select_related("device", "device__device_model", "business_unit", "policy")
        .first()
    )


def eligibility_summary(*, scope) -> dict:
    return DeviceEligibility.objects.within(scope).aggregate(
        devices=Count("pk"),
        due=Count("pk", filter=Q(is_due=True)),
        reclaim=Count("pk", filter=Q(reclaim=True)),
    )
