"""Headroom: the one definition every page, export, report and the API shows.

Per financial year and budget line of the capital envelope::

    headroom = budget − committed − forecast cost of demand not yet ordered

- **budget**: the line's amount (after recorded transfers);
- **committed**: what approved-and-later orders hold against the line (their gross
  value; a closed-short order what was received; a cancelled one nothing);
- **forecast cost of demand not yet ordered** (``outstanding_cost``): refresh's
  forecast for the line's year and category, less the devices already on committed
  orders, priced at the forecast's own unit cost. A closed year has none: nothing
  more may be bought against it.
- **received** is shown for information: it is part of what is committed.

A line whose forecast outturn (committed + outstanding) exceeds its budget is
flagged ``over_budget``; its year is flagged when the year's outturn exceeds the
year's budget. A line whose forecast volume exceeds the plan baseline's volume (the
plan's maximum) is flagged ``over_plan_volume``. Each line and year carries one
signal: closed, forecast over budget, over plan volume, or within plan.

The envelope's scope is data (``CapitalEnvelope.funded_categories``): demand of any
other category (tablets) is returned apart in ``unfunded`` and never counted.

Scope: ``user`` (or ``scope``) limits commitments, receipts, the forecast and the
plan baseline to the caller's units; budgets are the organisation's either way.
With neither, the figures are the whole organisation's (the monthly finance report).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from accounts.scoping import UnitScope, unit_scope
from core.financial_year import LONDON, FinancialYear, financial_year
from devices.models import Category
from procurement.models import (
    COMMITTED_STATUSES,
    BudgetLine,
    CapitalEnvelope,
    PurchaseOrder,
    Receipt,
    money,
)
from refresh.selectors import baseline_totals, forecast_totals, plan_snapshot, scenario_compare

ZERO = Decimal("0.00")

WITHIN_PLAN = "within_plan"
OVER_BUDGET = "over_budget"
OVER_PLAN_VOLUME = "over_plan_volume"
CLOSED = "closed"
SIGNALS = {
    WITHIN_PLAN: "Within plan",
    OVER_BUDGET: "Forecast over budget",
    OVER_PLAN_VOLUME: "Over plan volume",
    CLOSED: "Closed",
}
# One GOV.UK tag colour per signal, the same wherever the signal appears.
SIGNAL_TAGS = {
    WITHIN_PLAN: "govuk-tag--green",
    OVER_BUDGET: "govuk-tag--red",
    OVER_PLAN_VOLUME: "govuk-tag--orange",
    CLOSED: "govuk-tag--grey",
}

Forecast = dict[tuple[str, str], dict]


def current_envelope() -> CapitalEnvelope | None:
    """The envelope being managed: the most recently created."""
    return CapitalEnvelope.objects.order_by("-created_at", "-id").first()


def london_today() -> dt.date:
    return timezone.now().astimezone(LONDON).date()


def forecast_by_year_category(
    *,
    financial_years: list[str],
    scope: UnitScope | None = None,
    funded_categories: list[str] | None = None,
) -> Forecast:
    """Refresh's forecast (``refresh.selectors.forecast_totals``) summed to cost and
    volume per (financial year, category), every category, within ``scope`` (None:
    whole estate). Refresh is told the envelope's ``funded_categories``; the headroom
    counts only those and shows the rest apart."""
    if not financial_years:
        return {}
    rows = forecast_totals(
        financial_years=[FinancialYear.parse(label) for label in financial_years],
        scope=scope,
        funded_categories=funded_categories,
    )
    out: Forecast = {}
    for row in rows:
        key = (row["financial_year"], row["category"])
        slot = out.setdefault(key, {"cost": ZERO, "volume": 0})
        slot["cost"] += Decimal(row["cost"] or 0)
        slot["volume"] += int(row["volume"] or 0)
    return out


def _signal(*, closed: bool, over_budget: bool, over_plan_volume: bool) -> str:
    if closed:
        return CLOSED
    if over_budget:
        return OVER_BUDGET
    if over_plan_volume:
        return OVER_PLAN_VOLUME
    return WITHIN_PLAN


def _outstanding(*, forecast_volume: int, forecast_cost: Decimal, ordered: int, closed: bool):
    """Demand not yet ordered: devices and their cost at the forecast's unit cost."""
    if closed or forecast_volume <= 0:
        return 0, ZERO
    volume = max(0, forecast_volume - ordered)
    return volume, money(forecast_cost * volume / forecast_volume)


def line_figures(
    *,
    budget: Decimal,
    committed: Decimal,
    received: Decimal,
    forecast_volume: int,
    forecast_cost: Decimal,
    ordered_volume: int,
    plan_volume: int | None,
    closed: bool,
) -> dict:
    """The headroom sum for one line from its terms (also used for "what approving
    this order would leave")."""
    outstanding_volume, outstanding_cost = _outstanding(
        forecast_volume=forecast_volume,
        forecast_cost=forecast_cost,
        ordered=ordered_volume,
        closed=closed,
    )
    outturn = committed + outstanding_cost
    over_budget = outturn > budget
    over_plan_volume = (not closed) and plan_volume is not None and forecast_volume > plan_volume
    signal = _signal(closed=closed, over_budget=over_budget, over_plan_volume=over_plan_volume)
    return {
        "budget": budget,
        "committed": committed,
        "received": received,
        "uncommitted": budget - committed,
        "forecast_volume": forecast_volume,
        "forecast_cost": forecast_cost,
        "ordered_volume": ordered_volume,
        "outstanding_volume": outstanding_volume,
        "outstanding_cost": outstanding_cost,
        "forecast_outturn": outturn,
        "headroom": budget - committed - outstanding_cost,
        "plan_volume": plan_volume,
        "plan_variance": None if plan_volume is None else forecast_volume - plan_volume,
        "over_budget": over_budget,
        "over_plan_volume": over_plan_volume,
        "closed": closed,
        "signal": signal,
        "signal_label": SIGNALS[signal],
    }


def _scope_for(user, scope) -> UnitScope | None:
    if user is not None:
        return unit_scope(user)
    return scope


def headroom(
    *,
    user=None,
    scope: UnitScope | None = None,
    fy: str | None = None,
    line: BudgetLine | int | None = None,
    forecast: Forecast | None = None,
    as_of: dt.date | None = None,
    envelope: CapitalEnvelope | None = None,
) -> dict:
    """The envelope's headroom per financial year and budget line, each term shown.

    ``user`` (or ``scope``) limits the figures to the caller's units (see the module
    docstring). ``fy`` (a label, "2026/27") and ``line`` (a budget line or its id)
    limit the ``rows`` and ``years`` returned; the envelope's totals stay whole.
    ``forecast`` replaces today's forecast (a scenario's): ``{(fy label, category):
    {"cost": Decimal, "volume": int}}``. ``as_of`` counts only orders approved and
    receipts made on or before that day, and years closed by then.

    Queries: the envelope, its lines, commitments, receipts, ordered and received
    volumes (one grouped query each), the plan baseline (two) and the forecast's own
    (none when ``forecast`` is given), whatever the number of lines or orders.

    Returns ``{"envelope", "funded_categories", "as_of", "total", "allocated",
    "unallocated", "committed", "received", "forecast", "outstanding", "headroom",
    "over_budget", "forecast_available", "rows", "years", "unfunded"}``. ``rows``
    come first (the finance report lays the position out in this order).
    """
    scope = _scope_for(user, scope)
    envelope = envelope or current_envelope()
    if envelope is None:
        return _empty(as_of)
    day = as_of or london_today()
    current = financial_year(day)
    lines = list(envelope.budget_lines.order_by("financial_year", "category"))
    funded = list(envelope.funded_categories)
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
    ordered_volumes = dict(
        orders.values_list("budget_line").annotate(n=Sum("lines__quantity")).order_by()
    )
    received_volumes = dict(
        receipts.values_list("line__purchase_order__budget_line")
        .annotate(n=Sum("quantity"))
        .order_by()
    )
    years = sorted({line.financial_year for line in lines})
    open_years = [y for y in years if FinancialYear.parse(y) >= current]
    if forecast is None:
        forecast = forecast_by_year_category(
            financial_years=open_years, scope=scope, funded_categories=funded
        )
    plan = plan_snapshot()
    planned = baseline_totals(snapshot=plan, scope=scope) if plan else {}

    rows = []
    for budget_line in lines:
        key = (budget_line.financial_year, budget_line.category)
        closed = FinancialYear.parse(budget_line.financial_year) < current
        slot = {} if closed else forecast.get(key, {})
        figures = line_figures(
            budget=budget_line.amount,
            committed=committed.get(budget_line.pk) or ZERO,
            received=received.get(budget_line.pk) or ZERO,
            forecast_volume=int(slot.get("volume") or 0),
            forecast_cost=money(slot.get("cost") or ZERO),
            ordered_volume=int(ordered_volumes.get(budget_line.pk) or 0),
            plan_volume=planned.get(key) if plan else None,
            closed=closed,
        )
        rows.append(
            {
                "budget_line_id": budget_line.pk,
                "financial_year": budget_line.financial_year,
                "category": budget_line.category,
                "category_label": Category(budget_line.category).label,
                **figures,
                "received_volume": int(received_volumes.get(budget_line.pk) or 0),
            }
        )
    year_rows = _years(rows, current)
    unfunded = _unfunded(forecast, funded=funded, open_years=open_years)

    total_committed = sum((r["committed"] for r in rows), ZERO)
    total_outstanding = sum((r["outstanding_cost"] for r in rows), ZERO)
    allocated = sum((line.amount for line in lines), ZERO)
    result = {
        "rows": _only(rows, fy=fy, line=line),
        "years": [y for y in year_rows if fy is None or y["financial_year"] == fy],
        "unfunded": unfunded,
        "envelope": {
            "id": envelope.pk,
            "name": envelope.name,
            "decision_reference": envelope.decision_reference,
            "owner_role": envelope.owner_role,
        },
        "funded_categories": funded,
        "as_of": as_of,
        "total": envelope.total,
        "allocated": allocated,
        "unallocated": envelope.total - allocated,
        "committed": total_committed,
        "received": sum((r["received"] for r in rows), ZERO),
        "forecast": sum((r["forecast_cost"] for r in rows), ZERO),
        "outstanding": total_outstanding,
        # The envelope's headroom: its total (allocated or not) less what is committed
        # and the demand still to buy. The rows' headroom sums to this less the
        # unallocated money.
        "headroom": envelope.total - total_committed - total_outstanding,
        "over_budget": any(y["over_budget"] for y in year_rows),
        "forecast_available": bool(open_years),
    }
    return result


def _only(rows: list[dict], *, fy: str | None, line) -> list[dict]:
    line_id = getattr(line, "pk", line)
    return [
        r
        for r in rows
        if (fy is None or r["financial_year"] == fy)
        and (line_id is None or r["budget_line_id"] == line_id)
    ]


def _years(rows: list[dict], current: FinancialYear) -> list[dict]:
    """The rows summed per financial year, each year with its own signal."""
    out: dict[str, dict] = {}
    sums = (
        "budget",
        "committed",
        "received",
        "uncommitted",
        "forecast_cost",
        "outstanding_cost",
        "forecast_outturn",
        "headroom",
    )
    volumes = ("forecast_volume", "ordered_volume", "outstanding_volume", "received_volume")
    for row in rows:
        slot = out.setdefault(
            row["financial_year"],
            {
                "financial_year": row["financial_year"],
                **dict.fromkeys(sums, ZERO),
                **dict.fromkeys(volumes, 0),
                "lines_over_budget": 0,
                "lines_over_plan_volume": 0,
            },
        )
        for key in sums:
            slot[key] += row[key]
        for key in volumes:
            slot[key] += row[key]
        slot["lines_over_budget"] += int(row["over_budget"])
        slot["lines_over_plan_volume"] += int(row["over_plan_volume"])
    for year in out.values():
        closed = FinancialYear.parse(year["financial_year"]) < current
        year["closed"] = closed
        year["over_budget"] = year["forecast_outturn"] > year["budget"]
        year["over_plan_volume"] = year["lines_over_plan_volume"] > 0
        signal = _signal(
            closed=closed,
            over_budget=year["over_budget"],
            over_plan_volume=year["over_plan_volume"],
        )
        year["signal"], year["signal_label"] = signal, SIGNALS[signal]
    return list(out.values())


def _unfunded(forecast: Forecast, *, funded: list[str], open_years: list[str]) -> list[dict]:
    """Forecast demand of categories the envelope does not fund: shown, never counted."""
    out = []
    for (year, category), slot in sorted(forecast.items()):
        if category in funded or year not in open_years:
            continue
        if not (slot.get("volume") or slot.get("cost")):
            continue
        out.append(
            {
                "financial_year": year,
                "category": category,
                "category_label": Category(category).label,
                "forecast_volume": int(slot.get("volume") or 0),
                "forecast_cost": money(slot.get("cost") or ZERO),
            }
        )
    return out


def _empty(as_of) -> dict:
    return {
        "rows": [],
        "years": [],
        "unfunded": [],
        "envelope": None,
        "funded_categories": [],
        "as_of": as_of,
        "total": ZERO,
        "allocated": ZERO,
        "unallocated": ZERO,
        "committed": ZERO,
        "received": ZERO,
        "forecast": None,
        "outstanding": ZERO,
        "headroom": ZERO,
        "over_budget": False,
        "forecast_available": False,
    }


def headroom_after_approval(*, order: PurchaseOrder, user) -> dict | None:
    """What approving ``order`` would leave in its line: the line's headroom now and
    after the order's gross value is committed and its devices counted as ordered.
    None when the order's line is not in the current envelope."""
    position = headroom(user=user, line=order.budget_line_id, envelope=order.budget_line.envelope)
    if not position["rows"]:
        return None
    now = position["rows"][0]
    quantity = sum(line.quantity for line in order.lines.all())
    after = line_figures(
        budget=now["budget"],
        committed=now["committed"] + order.gross_total,
        received=now["received"],
        forecast_volume=now["forecast_volume"],
        forecast_cost=now["forecast_cost"],
        ordered_volume=now["ordered_volume"] + quantity,
        plan_volume=now["plan_volume"],
        closed=now["closed"],
    )
    return {"now": now, "after": after, "order_gross": order.gross_total, "quantity": quantity}


def scenario_envelope(*, scenario, user=None, scope: UnitScope | None = None) -> dict | None:
    """A refresh scenario against the envelope: the same headroom sum with the
    scenario's forecast in place of today's, within the viewer's scope. None when no
    envelope is recorded.

    The scenario's forecast per year and category is today's forecast moved by the
    scenario's change (``refresh.selectors.scenario_compare``: scenario − base), so a
    scenario that changes nothing shows exactly the envelope page's headroom."""
    scope = _scope_for(user, scope)
    envelope = current_envelope()
    if envelope is None:
        return None
    current = financial_year(london_today())
    years = sorted(set(envelope.budget_lines.values_list("financial_year", flat=True)))
    open_years = [y for y in years if FinancialYear.parse(y) >= current]
    funded = list(envelope.funded_categories)
    today = forecast_by_year_category(
        financial_years=open_years, scope=scope, funded_categories=funded
    )
    compared = (
        scenario_compare(
            scenario=scenario,
            financial_years=[FinancialYear.parse(y) for y in open_years],
            scope=scope,
            funded_categories=funded,
        )
        if open_years
        else {"rows": []}
    )
    moved: Forecast = {key: dict(slot) for key, slot in today.items()}
    for row in compared["rows"]:
        key = (row["financial_year"], row["category"])
        slot = moved.setdefault(key, {"cost": ZERO, "volume": 0})
        slot["cost"] = max(ZERO, slot["cost"] + (row["scenario_cost"] - row["base_cost"]))
        slot["volume"] = max(0, slot["volume"] + (row["scenario_volume"] - row["base_volume"]))
    base = headroom(scope=scope, forecast=today, envelope=envelope)
    scenario_position = headroom(scope=scope, forecast=moved, envelope=envelope)
    return {
        "envelope": envelope,
        "financial_years": years,
        "open_years": open_years,
        "base": base,
        "scenario": scenario_position,
        "base_headroom": base["headroom"],
        "scenario_headroom": scenario_position["headroom"],
        # Positive: the scenario leaves more headroom than today's forecast.
        "saving": scenario_position["headroom"] - base["headroom"],
    }
