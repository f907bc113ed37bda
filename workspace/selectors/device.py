"""The device page: what every app knows about one device, gathered through each
app's own selectors, and the actions the viewer's role may take on it.

The device is read through the viewer's scope (``devices.selectors.device_get``);
outside it the page is a 404 and nothing else is read. Each panel asks its own app:
the estate (timeline, history, AT checks, the holder's entitlement), refresh
(eligibility with its reasons, the swap the device is in), disposals (its case).
A fixed number of queries whatever the length of the device's history.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Q

from accounts.roles import Role, can_see_commercial, has_role
from core.financial_year import FinancialYear
from devices import selectors as device_selectors
from devices.entitlement import entitlement_summary
from devices.models import ALLOWED_TRANSITIONS, ATCheck, Device
from disposals import selectors as disposal_selectors
from disposals.models import DisposalCase
from disposals.services import OPENABLE_DEVICE_STATUSES
from refresh import selectors as refresh_selectors
from refresh.models import DeviceEligibility, OsEndOfSupport, WaveItem
from workspace.timeline import TimelineEntry, history_rows, timeline_entries

S = Device.Status


@dataclass
class RefreshStatus:
    """The device's refresh position in words."""

    eligibility: DeviceEligibility | None
    reasons: list[str] = field(default_factory=list)
    due_year: str = ""
    swaps: list[WaveItem] = field(default_factory=list)


@dataclass
class DevicePage:
    """Everything the device page shows, already scoped and redacted for its viewer."""

    device: Device
    commercial: bool
    can_act: bool
    actions: frozenset[str]
    timeline: list[TimelineEntry]
    history: list[dict]
    at_checks: list[ATCheck]
    refresh: RefreshStatus
    entitlement: list[dict] | None
    disposal_case: DisposalCase | None


def device_actions(*, device: Device, user, at_checks, disposal_case) -> frozenset[str]:
    """What ``user`` may do to ``device`` now. Asset managers act; unit viewers,
    finance and commercial officers look (README "Roles and what each sees"). The
    status machine (``ALLOWED_TRANSITIONS``) decides which moves are offered; the
    services still decide whether each is allowed when it is tried."""
    if not has_role(user, Role.ASSET_MANAGER):
        return frozenset()
    moves = ALLOWED_TRANSITIONS.get(device.status, frozenset())
    status = device.status
    offered = {"note"}
    if status == S.IN_STOCK and S.DEPLOYED in moves:
        offered.add("deploy")
    if status == S.DEPLOYED:
        offered.add("reassign")
    if status != S.LOST_STOLEN and ({S.IN_STOCK, S.RETURNED} & moves):
        offered.add("return")
    if status in (S.IN_STOCK, S.DEPLOYED) and S.IN_REPAIR in moves:
        offered.add("repair")
    if status == S.IN_REPAIR:
        offered.add("repair_done")
    if S.LOST_STOLEN in moves:
        offered.add("lost")
    if status == S.LOST_STOLEN:
        offered.add("found")
    if status in OPENABLE_DEVICE_STATUSES and disposal_case is None and not device.historical:
        offered.add("disposal")
    if any(check.pending for check in at_checks):
        offered.add("at_check")
    return frozenset(offered)


def return_destinations(status: str) -> list[tuple[str, str]]:
    """Where a device in ``status`` may be returned to: back into stock, or handed
    back for disposal (returned), as the status machine allows."""
    moves = ALLOWED_TRANSITIONS.get(status, frozenset())
    options = []
    if S.IN_STOCK in moves and status != S.IN_STOCK:
        options.append((S.IN_STOCK.value, "Back into stock, to be issued again"))
    if S.RETURNED in moves:
        options.append((S.RETURNED.value, "Handed back for disposal (returned)"))
    return options


def _os_end_of_support(os_version: str) -> dt.date | None:
    """The end of support of the device's operating system, as eligibility reads it
    (a case-insensitive prefix; the earliest date when several prefixes match)."""
    if not os_version:
        return None
    version = os_version.lower()
    dates = [
        day
        for prefix, day in OsEndOfSupport.objects.values_list("os_prefix", "end_of_support")
        if version.startswith(prefix.lower())
    ]
    return min(dates) if dates else None


def _day(value) -> str:
    return f"{value:%-d %B %Y}" if value else ""


def refresh_reasons(*, device: Device, eligibility: DeviceEligibility) -> list[str]:
    """Why the device is (or would be) due, in words naming the figures behind each
    reason."""
    policy = eligibility.policy
    reasons = []
    if eligibility.reason_age:
        bought = f"bought {_day(eligibility.purchase_date)}, " if eligibility.purchase_date else ""
        reasons.append(
            f"Age: {bought}past its {policy.lifecycle_months}-month lifecycle "
            f"on {_day(eligibility.due_date)}"
        )
    if eligibility.reason_repairs:
        reasons.append(
            f"Repairs: {eligibility.repair_count} recorded; "
            f"{policy.repair_threshold} make a {device.device_model.get_category_display().lower()}"
            " due"
        )
    if eligibility.reason_os_end_of_support:
        ended = _os_end_of_support(device.os_version)
        since = f" since {_day(ended)}" if ended else ""
        reasons.append(f"Operating system: {device.os_version} unsupported{since}")
    if eligibility.reason_model_end_of_support:
        reasons.append(
            f"Model: {device.device_model.name} unsupported since "
            f"{_day(device.device_model.end_of_support)}"
        )
    if eligibility.reason_out_of_warranty:
        reasons.append(f"Warranty: expired {_day(device.warranty_expires)}")
    if eligibility.reclaim:
        reasons.append(
            f"Idle: not seen by device management for over {policy.idle_days} days; "
            "reclaim it to stock rather than refresh it"
        )
    return reasons


def device_swaps(*, user, device: Device) -> list[WaveItem]:
    """The refresh swaps this device is in (as the old or the new device), newest
    first, within the viewer's scope: one query."""
    return list(
        WaveItem.objects.visible_to(user)
        .filter(Q(old_device=device) | Q(new_device=device))
        .select_related("wave", "old_device", "new_device", "person")
        .order_by("-id")
    )


def device_refresh_status(*, user, device: Device) -> RefreshStatus:
    eligibility = refresh_selectors.eligibility_for_device(user=user, device_id=device.pk)
    status = RefreshStatus(eligibility=eligibility)
    if eligibility is not None:
        status.reasons = refresh_reasons(device=device, eligibility=eligibility)
        if eligibility.due_financial_year:
            status.due_year = FinancialYear(eligibility.due_financial_year).label
    status.swaps = device_swaps(user=user, device=device)
    return status


def device_page(*, user, pk: int) -> DevicePage | None:
    """Everything the device page shows, or None when the device is not in the
    viewer's scope (or does not exist)."""
    device = device_selectors.device_get(user=user, pk=pk)
    if device is None:
        return None
    events = list(device_selectors.device_events(device=device).reverse())  # newest first
    at_checks = list(device_selectors.device_at_checks(device=device))
    case = disposal_selectors.case_for_device(user=user, device_id=device.pk)
    actions = device_actions(device=device, user=user, at_checks=at_checks, disposal_case=case)
    holder = device.assigned_to
    return DevicePage(
        device=device,
        commercial=can_see_commercial(user),
        can_act=bool(actions),
        actions=actions,
        timeline=timeline_entries(events, user=user),
        history=history_rows(device_selectors.device_change_history(user=user, device=device)),
        at_checks=at_checks,
        refresh=device_refresh_status(user=user, device=device),
        entitlement=entitlement_summary(person=holder) if holder is not None else None,
        disposal_case=case,
    )


def pending_at_check(*, device: Device, check_id) -> ATCheck | None:
    """A pending AT check of ``device`` by id (the device is already in scope)."""
    try:
        check_id = int(check_id)
    except (TypeError, ValueError):
        return None
    return (
        device.at_checks.filter(pk=check_id, confirmed_at__isnull=True)
        .select_related("person", "deployed_by")
        .first()
    )
