"""Wave reads: the waves and swaps a user may see, and the stock a swap may draw on."""

from __future__ import annotations

from django.db.models import Count, F, Q

from accounts.models import BusinessUnit
from devices.models import ATCheck, Device
from refresh.models import RefreshWave, SwapStep, WaveItem

# Units whose code contains one of these hold central stock any unit may draw on
# (the demo estate's is EUS-STORES).
CENTRAL_STORE_MARKERS = ("STORE", "CENTRAL")


def is_central_store(unit) -> bool:
    return any(marker in unit.code.upper() for marker in CENTRAL_STORE_MARKERS)


def central_store_q(prefix: str = "business_unit") -> Q:
    """Devices held by a central store (the condition ``is_central_store`` applies);
    with ``prefix=""`` the business units that are central stores."""
    lookup = f"{prefix}__code__icontains" if prefix else "code__icontains"
    central = Q(pk__in=[])
    for marker in CENTRAL_STORE_MARKERS:
        central |= Q(**{lookup: marker})
    return central


def central_store_unit(*, preferred=None):
    """The central store an old device goes back to when its swap completes:
    ``preferred`` (the store the new device came from) when it is an active
    central store, else the first active central store by code; None when the
    organisation has no store unit (the caller refuses rather than guess)."""
    if preferred is not None and preferred.active and is_central_store(preferred):
        return preferred
    return (
        BusinessUnit.objects.filter(central_store_q(prefix=""))
        .filter(active=True)
        .order_by("code")
        .first()
    )


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
        .select_related("old_device", "new_device", "person", "business_unit")
        .order_by("-priority", "id")
    )


def devices_matching_code(*, code: str, actor=None):
    """Devices ``actor`` may allocate (their units and the central stores) whose serial
    number or asset tag is exactly ``code``, as a barcode scanner types it; also tried
    in capitals, as asset tags are printed. Equality only, so both lookups use their
    indexes (the serial index and the asset tag's unique index) at any estate size."""
    code = code.strip()
    candidates = list(dict.fromkeys([code, code.upper()]))
    return (
        allocatable_devices(actor=actor)
        .filter(Q(serial_number__in=candidates) | Q(asset_tag__in=candidates))
        .select_related("device_model", "business_unit")
        .order_by("pk")
    )


# How many stock devices the swap page lists at a time.
STOCK_PAGE_SIZE = 20
# The furthest page of stock a swap page may ask for (beyond it, search instead).
MAX_STOCK_PAGE = 500


def stock_for_item(
    *,
    item: WaveItem,
    scope,
    query: str = "",
    page: int = 1,
    limit: int = STOCK_PAGE_SIZE,
):
    """In-stock devices that could be allocated to a swap within ``scope``: the swap's
    category, held by the person's unit or a central store, not allocated to another
    live swap; newest purchase first. ``query`` narrows them to a serial number or
    asset tag beginning with it or a model name containing it, so every device in
    stock can be found, not only the first page. Returns ``limit + 1`` rows at most
    from ``page``: one more than shown tells the page there is a next one."""
    allocated = (
        WaveItem.objects.exclude(status=WaveItem.Status.CANCELLED)
        .filter(new_device__isnull=False)
        .values("new_device_id")
    )
    qs = (
        allocatable_devices(scope=scope)
        .filter(status=Device.Status.IN_STOCK, device_model__category=item.category)
        .filter(Q(business_unit_id=item.person.business_unit_id) | central_store_q())
        .exclude(pk__in=allocated)
    )
    query = (query or "").strip()
    if query:
        qs = qs.filter(
            Q(serial_number__istartswith=query)
            | Q(asset_tag__istartswith=query)
            | Q(device_model__name__icontains=query)
        )
    page = min(max(page, 1), MAX_STOCK_PAGE)
    start = (page - 1) * limit
    return qs.select_related("device_model", "business_unit").order_by(
        F("purchase_date").desc(nulls_last=True), "-id"
    )[start : start + limit + 1]


def swap_steps(*, item: WaveItem):
    """The steps recorded for a swap, oldest first, with who recorded them."""
    return (
        SwapStep.objects.filter(item=item)
        .select_related("recorded_by", "new_device")
        .order_by("recorded_at", "pk")
    )


def live_swap_for_device(*, device_id: int, scope):
    """The swap a device is in now, as the old or the new device (not completed or
    cancelled), within ``scope``; None when there is none. For the device page."""
    return (
        WaveItem.objects.within(scope)
        .exclude(status__in=[WaveItem.Status.COMPLETED, WaveItem.Status.CANCELLED])
        .filter(Q(old_device_id=device_id) | Q(new_device_id=device_id))
        .select_related("wave", "person", "old_device", "new_device")
        .order_by("-pk")
        .first()
    )


def swap_at_check(*, item: WaveItem) -> ATCheck | None:
    """The AT check of a swap's handover: the latest deployment of its new device to
    its person (devices opens one at every deployment to a person with AT needs,
    from any door); None before handover."""
    if item.new_device_id is None:
        return None
    return (
        ATCheck.objects.filter(device_id=item.new_device_id, person_id=item.person_id)
        .select_related("deployed_by", "confirmed_by")
        .order_by("-deployed_at", "-pk")
        .first()
    )
