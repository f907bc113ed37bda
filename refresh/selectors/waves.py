"""Wave reads: the waves and swaps a user may see, and the stock a swap may draw on."""

from __future__ import annotations

from django.db.models import Count, Q

from devices.models import Device
from refresh.models import RefreshWave, WaveItem

# Units whose code contains one of these hold central stock any unit may draw on
# (the demo estate's is EUS-STORES).
CENTRAL_STORE_MARKERS = ("STORE", "CENTRAL")


def is_central_store(unit) -> bool:
    return any(marker in unit.code.upper() for marker in CENTRAL_STORE_MARKERS)


def central_store_q(prefix: str = "business_unit") -> Q:
    """Devices held by a central store (the condition ``is_central_store`` applies)."""
    central = Q(pk__in=[])
    for marker in CENTRAL_STORE_MARKERS:
        central |= Q(**{f"{prefix}__code__icontains": marker})
    return central


def allocatable_devices(*, actor=None, scope=None):
    """The devices a swap may be given by ``actor`` (or within ``scope``): those in
    their units, and the central stores' stock, which serves every unit's swaps.
    Neither an actor nor a scope: the whole estate (the demo seed)."""
    if actor is not None:
        own = Device.objects.visible_to(actor)
    elif scope is not None:
        own = Device.objects.within(scope)
    else:
        return Device.objects.all()
    return own | Device.objects.filter(central_store_q())


def wave_list(*, scope):
    """Waves whose unit is in scope. A wave without a unit (selected from the
    whole estate) lies in no unit's subtree, so only the unrestricted see it."""
    return (
        RefreshWave.objects.within(scope)
        .select_related("business_unit", "created_by")
        .annotate(
            item_count=Count("items"),
            completed_count=Count("items", filter=Q(items__status=WaveItem.Status.COMPLETED)),
            cancelled_count=Count("items", filter=Q(items__status=WaveItem.Status.CANCELLED)),
        )
        .order_by("-created_at", "-id")
    )


def wave_items(*, wave: RefreshWave, scope):
    """The swaps of ``wave`` whose unit is in scope, by priority."""
    return (
        WaveItem.objects.within(scope)
        .filter(wave=wave)
        .select_related("old_device", "new_device", "person", "business_unit", "at_confirmation")
        .order_by("-priority", "id")
    )


def stock_for_item(*, item: WaveItem, scope, limit: int = 20):
    """In-stock devices that could be allocated to a swap within ``scope`` (first
    few, newest purchase first): the swap's category, held by the person's unit
    or a central store, and not allocated to another live swap."""
    allocated = (
        WaveItem.objects.exclude(status=WaveItem.Status.CANCELLED)
        .filter(new_device__isnull=False)
        .values("new_device_id")
    )
    return (
        allocatable_devices(scope=scope)
        .filter(status=Device.Status.IN_STOCK, device_model__category=item.category)
        .filter(Q(business_unit_id=item.person.business_unit_id) | central_store_q())
        .exclude(pk__in=allocated)
        .select_related("device_model")
        .order_by("-purchase_date", "id")[:limit]
    )
