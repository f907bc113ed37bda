"""The demand forecast per business unit, financial year and category, and the
plan baseline it is reported against. ``scope``/``unit_scope`` is an
``accounts.scoping.UnitScope``; None means the whole estate."""

from __future__ import annotations

import datetime as dt

from django.db.models import Sum
from django.utils import timezone

from core.financial_year import FinancialYear, financial_year
from refresh.models import BaselineRow, BaselineSnapshot
from refresh.selectors.forecast_engine import (
    CATEGORIES,
    bau_rates,
    bau_volume,
    category_prices,
    default_financial_years,
    devices_in_use_at,
    funded_set,
    groups_as_of,
    headcount,
    priced_totals,
    refresh_by_fy,
    unit_year_groups,
)


def forecast_lines(
    *,
    financial_years: list[FinancialYear],
    as_of: dt.date | None = None,
    scope=None,
) -> list[dict]:
    """Demand per (business unit, category, financial year): refresh volume,
    BAU volume, devices in use and people in scope. ``as_of`` None means today,
    from the eligibility table; a past date rebuilds the estate of that date."""
    today = as_of or timezone.localdate()
    current = financial_year(today)
    if as_of is None:
        refresh, in_use = unit_year_groups(current=current, scope=scope)
    else:
        groups = groups_as_of(as_of=as_of, scope=scope)
        refresh = refresh_by_fy(groups, current=current, overrides=None)
        in_use = devices_in_use_at(as_of=as_of, scope=scope)
    heads, total_people = headcount(day=today, scope=scope)
    rates = bau_rates()
    units = {u for u, _c, _f in refresh} | {u for u, _c in in_use} | set(heads)
    lines = []
    for unit in sorted(units, key=lambda u: u or 0):
        for cat in CATEGORIES:
            devices_in_use = in_use.get((unit, cat), 0)
            rate = rates.get(cat)
            bau = (
                bau_volume(
                    rate=rate,
                    devices_in_use=devices_in_use,
                    people=heads.get(unit, 0),
                    total_people=total_people,
                )
                if rate
                else 0
            )
            for fy in financial_years:
                refresh_volume = refresh.get((unit, cat, fy.start_year), 0)
                if not (refresh_volume or bau or devices_in_use):
                    continue
                lines.append(
                    {
                        "business_unit_id": unit,
                        "category": cat,
                        "fy": fy,
                        "refresh_volume": refresh_volume,
                        "bau_volume": bau,
                        "devices_in_use": devices_in_use,
                        "people_in_scope": heads.get(unit, 0),
                    }
                )
    return lines


def forecast_totals(
    *,
    financial_years: list[FinancialYear] | None = None,
    scope=None,
    unit_scope=None,
    funded_categories=None,
) -> list[dict]:
    """Demand per financial year and category: refresh volume, BAU volume, total
    volume and cost (Decimal, commercial: show only to finance roles), and whether
    the category is one the envelope funds.

    Keys: financial_year (label), category, refresh_volume, bau_volume, volume,
    unit_price, cost, deferred_by_cap, funded. Every category's demand is returned
    (tablets are real demand); only rows with ``funded`` True may be counted against
    the envelope. ``funded_categories``: the envelope's categories (default the
    paper's four, ``PAPER_FUNDED_CATEGORIES``). ``scope`` is an
    ``accounts.scoping.UnitScope`` (None: whole estate); ``unit_scope`` is its older
    name, still used by procurement.
    """
    financial_years = financial_years or default_financial_years()
    scope = scope if scope is not None else unit_scope
    funded = funded_set(funded_categories)
    lines = forecast_lines(financial_years=financial_years, scope=scope)
    rows = priced_totals(lines, financial_years=financial_years, prices=category_prices())
    for row in rows:
        row["funded"] = row["category"] in funded
    return rows


def refresh_due_by_unit(
    *, financial_years: list[FinancialYear], scope=None
) -> dict[tuple[int, str, str], int]:
    """(business_unit_id, FY label, category) -> devices due for refresh in that
    year (overdue ones in the current year) inside ``scope`` (None: every unit),
    from one grouped query."""
    current = financial_year(timezone.localdate())
    refresh, _in_use = unit_year_groups(current=current, scope=scope)
    labels = {fy.start_year: fy.label for fy in financial_years}
    return {
        (unit, labels[fy], cat): n for (unit, cat, fy), n in refresh.items() if fy in labels and n
    }


def plan_snapshot() -> BaselineSnapshot | None:
    return BaselineSnapshot.objects.filter(is_plan=True).first()


def baseline_totals(*, snapshot: BaselineSnapshot, scope=None) -> dict[tuple[str, str], int]:
    """(FY label, category) -> refresh + BAU volume of a baseline, scoped."""
    qs = BaselineRow.objects.within(scope).filter(snapshot=snapshot)
    out = {}
    for fy, cat, refresh_volume, bau in (
        qs.values("financial_year", "category")
        .annotate(r=Sum("refresh_volume"), b=Sum("bau_volume"))
        .order_by()
        .values_list("financial_year", "category", "r", "b")
    ):
        out[(FinancialYear(fy).label, cat)] = (refresh_volume or 0) + (bau or 0)
    return out


def forecast_with_variance(
    *, financial_years: list[FinancialYear], scope=None, funded_categories=None
) -> dict:
    """Today's forecast per FY and category beside the plan baseline: variance
    and whether the forecast exceeds the plan's maximum volume. ``funded_rows``
    are the envelope's categories, ``outside_rows`` the rest (tablets), shown apart
    and never summed with them."""
    rows = forecast_totals(
        financial_years=financial_years, scope=scope, funded_categories=funded_categories
    )
    plan = plan_snapshot()
    planned = baseline_totals(snapshot=plan, scope=scope) if plan else {}
    for row in rows:
        baseline = planned.get((row["financial_year"], row["category"]))
        row["baseline_volume"] = baseline
        row["variance"] = None if baseline is None else row["volume"] - baseline
        row["exceeds_plan"] = baseline is not None and row["volume"] > baseline
    return {
        "rows": rows,
        "funded_rows": [r for r in rows if r["funded"]],
        "outside_rows": [r for r in rows if not r["funded"]],
        "funded_categories": sorted(funded_set(funded_categories)),
        "plan": plan,
    }
