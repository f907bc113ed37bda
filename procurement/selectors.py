"""Reads for procurement: the envelope position, the burn-down, and the lists.

Every figure here is OFFICIAL-SENSITIVE [COMMERCIAL] except the volumes; views and
the API decide who sees which (accounts.roles.can_see_commercial).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db.models import Count, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth

from accounts.scoping import UnitScope
from core.financial_year import FinancialYear
from devices.models import Category
from procurement.models import (
    COMMITTED_STATUSES,
    BudgetLine,
    BudgetTransfer,
    CapitalEnvelope,
    Contract,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    ReceivedDevice,
    money,
)
from refresh.selectors import forecast_totals, scenario_compare

ZERO = Decimal("0.00")


def current_envelope() -> CapitalEnvelope | None:
    """The envelope being managed: the most recently created."""
    return CapitalEnvelope.objects.order_by("-created_at", "-id").first()


def forecast_by_year_category(
    *, financial_years: list[str], scope: UnitScope | None = None
) -> dict[tuple[str, str], dict]:
    """Refresh's forecast (``refresh.selectors.forecast_totals``) summed to cost and
    volume per (financial year, category), within ``scope`` (None: whole estate)."""
    rows = forecast_totals(
        financial_years=[FinancialYear.parse(label) for label in financial_years],
        unit_scope=scope,
    )
    out: dict[tuple[str, str], dict] = {}
    for row in rows:
        key = (row["financial_year"], row["category"])
        slot = out.setdefault(key, {"cost": ZERO, "volume": 0})
        slot["cost"] += Decimal(row["cost"] or 0)
        slot["volume"] += int(row["volume"] or 0)
    return out


def envelope_position(
    *,
    as_of: dt.date | None = None,
    envelope: CapitalEnvelope | None = None,
    scope: UnitScope | None = None,
) -> dict:
    """The envelope total and, per financial year and category: budget, committed,
    received (actual), forecast demand cost and headroom (budget − committed), as
    Decimal.

    ``as_of`` counts only orders approved and receipts made on or before that day
    (budget lines at their current amounts). ``scope`` limits commitments and
    receipts to a user's units; the budget is the organisation's either way.
    The forecast is refresh's (``forecast_by_year_category``) for the years of the
    envelope's budget lines, within the same ``scope``; an envelope without lines
    has no years to forecast (``forecast`` None, ``forecast_available`` False).
    Queries: the envelope, its lines, one aggregate of commitments, one of
    receipts, one of quantities, and the forecast's own.

    Returns ``{"envelope": {...} | None, "total", "allocated", "committed",
    "received", "forecast", "headroom", "forecast_available", "rows": [...]}``.
    """
    envelope = envelope or current_envelope()
    if envelope is None:
        return {
            "envelope": None,
            "total": ZERO,
            "allocated": ZERO,
            "committed": ZERO,
            "received": ZERO,
            "forecast": None,
            "headroom": ZERO,
            "forecast_available": False,
            "rows": [],
        }
    lines = list(envelope.budget_lines.order_by("financial_year", "category"))
    orders = PurchaseOrder.objects.filter(
        budget_line__envelope=envelope, status__in=COMMITTED_STATUSES
    )
    receipts = Receipt.objects.filter(line__purchase_order__budget_line__envelope=envelope)
    if as_of is not None:
        orders = orders.filter(approved_on__lte=as_of)
        receipts = receipts.filter(received_on__lte=as_of)
    orders = orders.within(scope)
    receipts = receipts.within(scope)
    # money(): SQLite's SUM hands back long Decimals; pennies are the unit here.
    committed = {
        line_id: money(total)
        for line_id, total in orders.values_list("budget_line")
        .annotate(total=Sum("committed_total"))
        .order_by()
    }
    received = {
        line_id: money(total)
        for line_id, total in receipts.values_list("line__purchase_order__budget_line")
        .annotate(total=Sum("value"))
        .order_by()
    }
    volumes = {
        row["budget_line"]: row
        for row in orders.values("budget_line").annotate(ordered=Sum("lines__quantity")).order_by()
    }
    received_volumes = dict(
        receipts.values_list("line__purchase_order__budget_line")
        .annotate(n=Sum("quantity"))
        .order_by()
    )
    years = sorted({line.financial_year for line in lines})
    forecast = forecast_by_year_category(financial_years=years, scope=scope) if years else {}
    rows = []
    for line in lines:
        key = (line.financial_year, line.category)
        row_committed = committed.get(line.pk) or ZERO
        rows.append(
            {
                "budget_line_id": line.pk,
                "financial_year": line.financial_year,
                "category": line.category,
                "category_label": Category(line.category).label,
                "budget": line.amount,
                "committed": row_committed,
                "received": received.get(line.pk) or ZERO,
                "forecast": forecast.get(key, {}).get("cost", ZERO),
                "forecast_volume": forecast.get(key, {}).get("volume", 0),
                "headroom": line.amount - row_committed,
                "ordered_volume": (volumes.get(line.pk) or {}).get("ordered") or 0,
                "received_volume": received_volumes.get(line.pk) or 0,
            }
        )
    total_committed = sum((r["committed"] for r in rows), ZERO)
    return {
        "envelope": {
            "id": envelope.pk,
            "name": envelope.name,
            "decision_reference": envelope.decision_reference,
            "owner_role": envelope.owner_role,
        },
        "total": envelope.total,
        "allocated": sum((line.amount for line in lines), ZERO),
        "committed": total_committed,
        "received": sum((r["received"] for r in rows), ZERO),
        "forecast": sum((r["forecast"] for r in rows), ZERO) if years else None,
        "headroom": envelope.total - total_committed,
        "forecast_available": bool(years),
        "rows": rows,
    }


def scenario_against_envelope(*, scenario, envelope: CapitalEnvelope | None = None) -> dict | None:
    """A refresh scenario against the capital envelope: today's forecast cost and the
    scenario's over the envelope's financial years (those of its budget lines), the
    saving, and the envelope left after each. None when no envelope is recorded.

    The forecast counts demand from the current financial year on, so an envelope
    year already past adds nothing (what was bought then is in the position)."""
    envelope = envelope or current_envelope()
    if envelope is None:
        return None
    years = sorted(set(envelope.budget_lines.values_list("financial_year", flat=True)))
    compared = scenario_compare(
        scenario=scenario, financial_years=[FinancialYear.parse(label) for label in years]
    )
    return {
        "envelope": envelope,
        "financial_years": years,
        "base_cost": compared["base_cost"],
        "scenario_cost": compared["scenario_cost"],
        "saving": compared["saving"],
        "base_headroom": envelope.total - compared["base_cost"],
        "scenario_headroom": envelope.total - compared["scenario_cost"],
    }


def year_totals(position: dict) -> list[dict]:
    """The position's rows summed per financial year."""
    out: dict[str, dict] = {}
    for row in position["rows"]:
        slot = out.setdefault(
            row["financial_year"],
            {
                "financial_year": row["financial_year"],
                "budget": ZERO,
                "committed": ZERO,
                "received": ZERO,
                "forecast": ZERO,
                "headroom": ZERO,
            },
        )
        for key in ("budget", "committed", "received", "forecast", "headroom"):
            slot[key] += row[key]
    return list(out.values())


def commitment_burn_down(
    *, envelope: CapitalEnvelope | None = None, scope: UnitScope | None = None
) -> list[dict]:
    """Cumulative commitments by month of approval against the envelope total, from
    the first month of the envelope's first year to the last month of its last.
    One aggregate query (plus the lines, to find the years)."""
    envelope = envelope or current_envelope()
    if envelope is None:
        return []
    years = sorted(
        {
            FinancialYear.parse(y)
            for y in envelope.budget_lines.values_list("financial_year", flat=True)
        }
    )
    orders = PurchaseOrder.objects.filter(
        budget_line__envelope=envelope, status__in=COMMITTED_STATUSES, approved_on__isnull=False
    )
    orders = orders.within(scope)
    by_month = {
        row["month"]: money(row["total"])
        for row in orders.annotate(month=TruncMonth("approved_on"))
        .values("month")
        .annotate(total=Sum("committed_total"))
        .order_by("month")
    }
    months = [m if isinstance(m, dt.date) else m.date() for m in by_month]
    by_month = {(m if isinstance(m, dt.date) else m.date()): v for m, v in by_month.items()}
    if years:
        start, end = years[0].start, years[-1].end
    elif months:
        start, end = min(months), max(months)
    else:
        return []
    if months:
        start = min(start, min(months))
    out = []
    cursor = dt.date(start.year, start.month, 1)
    running = ZERO
    while cursor <= end:
        running += by_month.get(cursor, ZERO)
        out.append(
            {
                "month": cursor,
                "label": cursor.strftime("%b %Y"),
                "committed_in_month": by_month.get(cursor, ZERO),
                "cumulative_committed": running,
                "envelope": envelope.total,
                "remaining": envelope.total - running,
            }
        )
        cursor = dt.date(cursor.year + cursor.month // 12, cursor.month % 12 + 1, 1)
    return out


# --- lists ---------------------------------------------------------------------


def budget_line_list(*, envelope: CapitalEnvelope | None = None) -> QuerySet[BudgetLine]:
    envelope = envelope or current_envelope()
    if envelope is None:
        return BudgetLine.objects.none()
    return (
        BudgetLine.objects.filter(envelope=envelope)
        .select_related("envelope")
        .annotate(
            committed=Sum(
                "purchase_orders__committed_total",
                filter=Q(purchase_orders__status__in=COMMITTED_STATUSES),
            )
        )
        .order_by("financial_year", "category")
    )


def budget_transfer_list(*, envelope: CapitalEnvelope) -> QuerySet[BudgetTransfer]:
    return BudgetTransfer.objects.filter(envelope=envelope).select_related(
        "from_line", "to_line", "made_by"
    )


def contract_list(*, user=None) -> QuerySet[Contract]:
    """Contracts are organisation-wide (not unit data)."""
    return (
        Contract.objects.select_related("supplier", "envelope", "award")
        .annotate(
            committed=Sum(
                "purchase_orders__committed_total",
                filter=Q(purchase_orders__status__in=COMMITTED_STATUSES),
            ),
            order_count=Count("purchase_orders"),
        )
        .order_by("reference")
    )


def purchase_order_list(*, user, filters: dict | None = None) -> QuerySet[PurchaseOrder]:
    """Orders in the user's unit scope, with what a list shows in one query."""
    filters = filters or {}
    qs = (
        PurchaseOrder.objects.visible_to(user)
        .select_related("budget_line", "supplier", "contract", "business_unit", "raised_by")
        .annotate(quantity=Sum("lines__quantity"))
    )
    if filters.get("status"):
        qs = qs.filter(status=filters["status"])
    if filters.get("financial_year"):
        qs = qs.filter(budget_line__financial_year=filters["financial_year"])
    if filters.get("category"):
        qs = qs.filter(budget_line__category=filters["category"])
    if filters.get("supplier"):
        qs = qs.filter(supplier_id=filters["supplier"])
    if filters.get("q"):
        qs = qs.filter(
            Q(reference__icontains=filters["q"]) | Q(description__icontains=filters["q"])
        )
    return qs.order_by("-id")


def purchase_order_get(*, user, pk: int) -> PurchaseOrder:
    """One order in the user's scope (PurchaseOrder.DoesNotExist otherwise, a 404)."""
    return (
        PurchaseOrder.objects.visible_to(user)
        .select_related(
            "budget_line__envelope",
            "supplier",
            "contract",
            "business_unit",
            "raised_by",
            "approved_by",
        )
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=PurchaseOrderLine.objects.select_related(
                    "device_model__manufacturer"
                ).annotate(received=Sum("receipts__quantity")),
            ),
            "approval_records__recorded_by",
        )
        .get(pk=pk)
    )


def received_devices_for(*, purchase_order: PurchaseOrder, limit: int = 500):
    """The devices received against an order (already looked up within the user's scope)."""
    return (
        ReceivedDevice.objects.filter(line__purchase_order=purchase_order)
        .select_related("device", "receipt")
        .order_by("id")[:limit]
    )


def purchase_order_status_counts(*, user) -> dict[str, int]:
    rows = (
        PurchaseOrder.objects.visible_to(user)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    return dict(rows)


def category_year_volumes(position: dict) -> list[dict]:
    """Volumes only (no money), for roles that may not see commercial figures."""
    grouped = defaultdict(lambda: {"ordered_volume": 0, "received_volume": 0})
    for row in position["rows"]:
        key = (row["financial_year"], row["category_label"])
        grouped[key]["ordered_volume"] += row["ordered_volume"]
        grouped[key]["received_volume"] += row["received_volume"]
        grouped[key]["forecast_volume"] = row["forecast_volume"]
    return [
        {"financial_year": fy, "category_label": cat, **values}
        for (fy, cat), values in sorted(grouped.items())
    ]
