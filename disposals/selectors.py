"""Reads for disposals, always through the caller's business-unit scope.

Scope comes from the models' managers (``visible_to`` / ``within``): a disposal
case is in scope when its device's business unit is; a consignment when it
carries at least one in-scope device (unrestricted users see every consignment,
empty ones included); a scope-limited user sees and counts only their own
devices in it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import (
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from accounts.redaction import redact_commercial
from accounts.scoping import unit_scope
from core.financial_year import LONDON, FinancialYear
from devices.models import Category, Device, DeviceEvent
from disposals.models import (
    ESTIMATED_WEIGHT_KG,
    Consignment,
    DisposalCase,
    Route,
    RouteDecision,
    SanitisationRecord,
)
from disposals.services.value_and_routes import route_suggest

RETURNED_QUEUE = "returned"
# The board's queues, in flow order: (key, label, case status or None for "returned, no case").
QUEUES = [
    (RETURNED_QUEUE, "Returned", None),
    ("awaiting_sanitisation", "Awaiting sanitisation", DisposalCase.Status.AWAITING_SANITISATION),
    ("sanitised", "Sanitised", DisposalCase.Status.SANITISED),
    ("value_assessed", "Value assessed", DisposalCase.Status.VALUE_ASSESSED),
    ("route_chosen", "Route chosen", DisposalCase.Status.ROUTE_CHOSEN),
    ("in_consignment", "In consignment", DisposalCase.Status.IN_CONSIGNMENT),
    ("dispatched", "Dispatched", DisposalCase.Status.DISPATCHED),
    ("disposed", "Disposed", DisposalCase.Status.DISPOSED),
]
QUEUE_KEYS = [key for key, _, _ in QUEUES]


def returned_devices_without_case(*, user) -> QuerySet[Device]:
    # NOT EXISTS rather than a LEFT JOIN ... IS NULL: PostgreSQL plans it as an anti-join
    # and estimates its size well, where the outer-join form was guessed at one row.
    return (
        Device.objects.visible_to(user)
        .filter(status=Device.Status.RETURNED)
        .filter(~Exists(DisposalCase.objects.filter(device_id=OuterRef("pk"))))
    )


def case_list(*, user) -> QuerySet[DisposalCase]:
    return DisposalCase.objects.visible_to(user)


def board_counts(*, user) -> dict[str, int]:
    """Count per queue: one grouped query over cases, one count of returned devices."""
    grouped = dict(case_list(user=user).values_list("status").annotate(n=Count("id")).order_by())
    counts = {key: grouped.get(status, 0) for key, _, status in QUEUES if status}
    counts[RETURNED_QUEUE] = returned_devices_without_case(user=user).count()
    return counts


def _repair_count() -> Subquery:
    """How many times the device was sent for repair (a correlated count on the
    events' (device, time) index; 0 when never)."""
    return Coalesce(
        Subquery(
            DeviceEvent.objects.filter(
                device_id=OuterRef("device_id"), kind=DeviceEvent.Kind.REPAIR_STARTED
            )
            .order_by()
            .values("device_id")
            .annotate(n=Count("id"))
            .values("n"),
            output_field=IntegerField(),
        ),
        0,
    )


def _age_years(purchased: dt.date | None, today: dt.date) -> Decimal | None:
    if purchased is None:
        return None
    return (Decimal((today - purchased).days) / Decimal("365.25")).quantize(Decimal("0.1"))


def _prefix_range(field: str, prefix: str) -> Q:
    """``field`` starts with ``prefix``, as a range a plain b-tree index answers (the
    LIKE alongside keeps it exact), the way ``devices.selectors.device_search`` finds
    a device, so the board and the device list find the same devices."""
    if ord(prefix[-1]) >= 0x10FFFF:
        return Q(**{f"{field}__startswith": prefix})
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return Q(**{f"{field}__gte": prefix, f"{field}__lt": upper, f"{field}__startswith": prefix})


def tag_or_serial_q(q: str, *, device: str = "") -> Q:
    """Asset tag or serial number equal to, or starting with, ``q`` (as typed or in
    capitals: labels are printed in capitals). ``device``: the path to the device
    (``"device__"`` from a case). Written on the row itself rather than as an
    ``IN (subquery)``, so the planner combines the tag and serial indexes with the
    queue's own filter (a subquery of every device starting "5CG" was 0.5 s at
    200,000 devices, bench/RESULTS.md)."""
    condition = Q()
    for value in dict.fromkeys((q, q.upper())):
        condition |= _prefix_range(f"{device}asset_tag", value) | _prefix_range(
            f"{device}serial_number", value
        )
    return condition


def _queue_queryset(*, user, queue: str, route: str = "", q: str = "") -> QuerySet:
    """The rows of a queue as a queryset (devices for "returned", else cases),
    narrowed to asset tags or serial numbers equal to or starting with ``q``."""
    q = (q or "").strip()
    if queue == RETURNED_QUEUE:
        qs = returned_devices_without_case(user=user)
        return qs.filter(tag_or_serial_q(q)) if q else qs
    status = {k: s for k, _, s in QUEUES}[queue]
    qs = case_list(user=user).filter(status=status)
    if route:
        qs = qs.filter(route=route)
    return qs.filter(tag_or_serial_q(q, device="device__")) if q else qs


def board_match_count(*, user, queue: str, route: str = "", q: str = "") -> int:
    """How many rows of the queue a search (or route filter) finds (one count)."""
    return _queue_queryset(user=user, queue=queue, route=route, q=q).count()


def board_rows(
    *, user, queue: str, route: str = "", q: str = "", limit: int = 200, offset: int = 0
) -> list:
    """A page (``limit`` rows from ``offset``) of a queue, oldest first, with everything
    the table shows joined in (one query: devices or cases with model, maker, unit,
    assessment and its rule, decision and its review, consignment, and each device's
    repair count). ``q`` narrows the queue to asset tags or serial numbers equal to,
    or starting with, what was typed (``tag_or_serial_q``).

    Each row carries ``age_years`` (from the purchase date) and ``repair_count`` so
    the engineer grading a device sees both; each value-assessed case carries its
    ``suggestion`` (route, reason) as accepting it would decide."""
    today = timezone.localdate()
    if queue == RETURNED_QUEUE:
        # Two steps: the page's ids first (an index walk and a sort of integers), then
        # only those rows with their joins; one query joined tens of thousands of
        # returned devices before sorting (bench/disposals_flow.py).
        ids = list(
            _queue_queryset(user=user, queue=queue, q=q)
            .order_by("id")
            .values_list("id", flat=True)[offset : offset + limit]
        )
        devices = list(
            Device.objects.filter(pk__in=ids)
            .select_related("device_model", "manufacturer", "business_unit")
            .order_by("id")
        )
        for device in devices:
            device.age_years = _age_years(device.purchase_date, today)
        return devices
    qs = _queue_queryset(user=user, queue=queue, route=route, q=q)
    if queue == "sanitised":
        qs = qs.annotate(repair_count=_repair_count())
    cases = list(
        qs.select_related(
            "device__device_model",
            "device__manufacturer",
            "device__business_unit",
            "assessment__rule",
            "route_decision__sign_off",
            "consignment__partner",
        ).order_by("id")[offset : offset + limit]
    )
    for case in cases:
        case.age_years = _age_years(case.device.purchase_date, today)
        assessment = getattr(case, "assessment", None)
        case.suggestion = None
        if queue == "value_assessed" and assessment is not None:
            case.suggestion = route_suggest(
                estimated_value=assessment.estimated_value,
                grade=assessment.grade,
                threshold=assessment.rule.resale_threshold,
                policy_destruction=assessment.policy_destruction,
            )
    return cases


def awaiting_sanitisation_reconciled(*, user) -> dict:
    """Why the estate's count of devices awaiting sanitisation (the dashboard reads
    the devices' own status) can differ from the board's "Awaiting sanitisation"
    queue (cases that still need a wipe), in the user's scope.

    A device whose wipe failed keeps the device status "awaiting sanitisation" (it is
    not sanitised, and the estate's status machine takes it only to disposed), while
    its case has moved on to physical destruction: route chosen, in a consignment or
    dispatched. A device in that status with no case at all would be a broken rule
    (PostgreSQL refuses it; migration 0003 repaired old rows): counted, so it shows.

    Returns ``devices`` (the dashboard's figure), ``in_queue``, ``failed_wipe`` (by
    case status label) and ``without_case``; ``devices == in_queue +
    sum(failed_wipe) + without_case`` always. One grouped query.
    """
    waiting = Device.objects.visible_to(user).filter(status=Device.Status.AWAITING_SANITISATION)
    by_case_status = dict(
        waiting.values_list("disposal_case__status").annotate(n=Count("id")).order_by()
    )
    devices = sum(by_case_status.values())
    without_case = by_case_status.pop(None, 0)
    in_queue = by_case_status.pop(DisposalCase.Status.AWAITING_SANITISATION, 0)
    labels = dict(DisposalCase.Status.choices)
    failed = {labels[status]: n for status, n in sorted(by_case_status.items()) if n}
    return {
        "devices": devices,
        "in_queue": in_queue,
        "failed_wipe": failed,
        "failed_wipe_total": sum(failed.values()),
        "without_case": without_case,
    }


def case_for_device(*, user, device_id: int) -> DisposalCase | None:
    return (
        case_list(user=user)
        .filter(device_id=device_id)
        .select_related(
            "assessment__assessed_by",
            "route_decision__decided_by",
            "route_decision__sign_off__signed_off_by",
            "consignment",
        )
        .first()
    )


def device_in_scope(*, user, device_id: int) -> Device:
    """The device, or 404 if it does not exist or lies outside the caller's scope."""
    device = (
        Device.objects.visible_to(user)
        .select_related("device_model", "manufacturer", "business_unit")
        .filter(pk=device_id)
        .first()
    )
    if device is None:
        raise Http404("No such device")
    return device


def device_id_for_tag_or_serial(*, user, q: str) -> int | None:
    """The id of the device in the caller's scope whose asset tag, or else serial
    number, is ``q``; ``None`` if there is none."""
    visible = Device.objects.visible_to(user)
    return (
        visible.filter(asset_tag=q).values_list("pk", flat=True).first()
        or visible.filter(serial_number=q).values_list("pk", flat=True).first()
    )


def cases_by_id(*, user, case_ids: list[int]) -> dict[int, DisposalCase]:
    """The cases among ``case_ids`` in the caller's scope, by id, with their devices."""
    return {c.pk: c for c in case_list(user=user).filter(pk__in=case_ids).select_related("device")}


def custody_chain(*, user, device_id: int) -> dict:
    """A device's whole chain of custody, oldest first: its events (every lifecycle
    step, disposal steps included), its case, sanitisation records, assessment,
    route decision with its finance review (sign-off or rejection) and consignment.
    A fixed number of queries, 404 outside scope. Event details are redacted of
    commercial figures for readers who may not see them (``accounts.redaction``)."""
    device = device_in_scope(user=user, device_id=device_id)
    events = list(
        DeviceEvent.objects.filter(device=device)
        .select_related("recorded_by")
        .order_by("occurred_at", "id")
    )
    # Events carry other records' values (an update's purchase cost, old and new):
    # commercial figures are taken out for readers who may not see them, here, so the
    # page, the PDF and the API all show the same redacted details.
    for event in events:
        event.details = redact_commercial(event.details or {}, user=user)
    case = case_for_device(user=user, device_id=device.pk)
    records = (
        list(SanitisationRecord.objects.filter(case=case).order_by("performed_at", "id"))
        if case
        else []
    )
    consignment = None
    if case and case.consignment_id:
        consignment = (
            Consignment.objects.visible_to(user)
            .select_related("partner")
            .filter(pk=case.consignment_id)
            .first()
        )
    return {
        "device": device,
        "events": events,
        "case": case,
        "sanitisation_records": records,
        "assessment": getattr(case, "assessment", None) if case else None,
        "route_decision": getattr(case, "route_decision", None) if case else None,
        "consignment": consignment,
    }


def consignment_list(*, user) -> QuerySet[Consignment]:
    """Consignments with their device counts, in scope, newest first (one query)."""
    scope = unit_scope(user)
    return (
        Consignment.objects.within(scope)
        .with_device_count(scope)
        .select_related("partner")
        .order_by("-created_at", "-id")
    )


def consignment_get(*, user, pk: int) -> Consignment:
    consignment = consignment_list(user=user).filter(pk=pk).first()
    if consignment is None:
        raise Http404("No such consignment")
    return consignment


def consignment_cases(*, user, consignment: Consignment) -> list[DisposalCase]:
    return list(
        case_list(user=user)
        .filter(consignment=consignment)
        .select_related(
            "device__device_model", "device__manufacturer", "device__business_unit", "assessment"
        )
        .prefetch_related(
            Prefetch(
                "sanitisation_records",
                queryset=SanitisationRecord.objects.order_by("performed_at", "id"),
            )
        )
        .order_by("id")
    )


def consignment_wholly_in_scope(*, user, consignment: Consignment) -> bool:
    """Whether every device in ``consignment`` lies in the user's scope: only then may a
    scoped user act on it (``disposals.services.consignments``). One query."""
    scope = unit_scope(user)
    if scope.unrestricted:
        return True
    return not (
        DisposalCase.objects.filter(consignment=consignment)
        .exclude(DisposalCase.objects.scope_q(scope))
        .exists()
    )


def overrides_awaiting_sign_off(*, user) -> QuerySet[RouteDecision]:
    """Overrides away from a suggested resale that await a finance or commercial
    sign-off, in the user's scope, oldest first (one query with everything shown)."""
    return (
        RouteDecision.objects.visible_to(user)
        .filter(needs_sign_off=True, sign_off__isnull=True)
        .select_related(
            "case__device__device_model",
            "case__device__manufacturer",
            "case__device__business_unit",
            "assessment",
            "decided_by",
        )
        .order_by("decided_at", "id")
    )


def open_consignments(*, route: str | None = None) -> QuerySet[Consignment]:
    qs = Consignment.objects.filter(status=Consignment.Status.OPEN).select_related("partner")
    return qs.filter(route=route) if route else qs


def _fy_bounds(fy: FinancialYear) -> tuple[dt.datetime, dt.datetime]:
    """The FY as a half-open range of aware datetimes, read in Europe/London."""
    start = dt.datetime.combine(fy.start, dt.time.min, tzinfo=LONDON)
    end = dt.datetime.combine(fy.end + dt.timedelta(days=1), dt.time.min, tzinfo=LONDON)
    return start, end


ROUTE_COLUMNS = [
    (Route.RESALE, "Resold"),
    (Route.REUSE, "Reused (digital inclusion)"),
    (Route.RECYCLING, "Recycled (WEEE)"),
    (Route.DESTRUCTION, "Destroyed"),
]


def disposal_summary(*, user, fy: FinancialYear, commercial: bool) -> dict:
    """Devices disposed in a financial year, by route and category, with estimated
    weight for environmental reporting, and resale income (commercial; only for
    unrestricted users, since proceeds belong to a whole consignment, not a unit).

    Two queries: one grouped count of disposed cases, one sum of proceeds.
    """
    start, end = _fy_bounds(fy)
    grouped = (
        case_list(user=user)
        .filter(status=DisposalCase.Status.DISPOSED, disposed_at__gte=start, disposed_at__lt=end)
        .values_list("route", "device__device_model__category")
        .annotate(n=Count("id"))
        .order_by()
    )
    table = {c: {r: 0 for r, _ in ROUTE_COLUMNS} for c, _ in Category.choices}
    for route, category, n in grouped:
        table[category][route] += n
    rows = []
    for category, label in Category.choices:
        by_route = table[category]
        total = sum(by_route.values())
        rows.append(
            {
                "category": category,
                "label": label,
                "by_route": [by_route[r] for r, _ in ROUTE_COLUMNS],
                "total": total,
                "weight_kg": ESTIMATED_WEIGHT_KG[category] * total,
            }
        )
    totals = [sum(r["by_route"][i] for r in rows) for i in range(len(ROUTE_COLUMNS))]
    income = None
    income_shown = commercial and unit_scope(user).unrestricted
    if income_shown:
        income = Consignment.objects.filter(
            route=Route.RESALE,
            status=Consignment.Status.CLOSED,
            closed_at__gte=start,
            closed_at__lt=end,
        ).aggregate(total=Sum("proceeds"))["total"] or Decimal("0.00")
        # SQLite sums decimals as floats: bring it back to pennies.
        income = Decimal(income).quantize(Decimal("0.01"))
    return {
        "fy": fy,
        "columns": [label for _, label in ROUTE_COLUMNS],
        "rows": rows,
        "totals": totals,
        "total": sum(totals),
        "total_weight_kg": sum((r["weight_kg"] for r in rows), Decimal(0)),
        "resale_income": income,
        "income_shown": income_shown,
    }
