"""Scenario comparison: the baseline forecast and a what-if side by side."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.utils import timezone

from core.financial_year import FinancialYear, financial_year
from refresh.models import Scenario
from refresh.selectors.forecast_engine import (
    CATEGORIES,
    Overrides,
    bau_rates,
    bau_volume,
    category_prices,
    default_financial_years,
    funded_set,
    groups_today,
    headcount,
    priced_totals,
    refresh_by_fy,
)


def scenario_compare(
    *,
    scenario: Scenario,
    financial_years: list[FinancialYear] | None = None,
    scope=None,
    funded_categories=None,
) -> dict:
    """Baseline forecast (policies in force) and the scenario side by side per
    FY and category, with the totals over ``financial_years`` and the saving (or,
    negative, the overspend) of the scenario, for the devices and people inside
    ``scope`` (the viewer's ``UnitScope``; None: the whole estate). Scope applies to
    aggregates as to rows (DESIGN "Rules at every door"): a viewer scoped to one
    command sees that command's volumes and costs, never the force's. New starters
    are shared by the scope's share of the organisation's headcount, as in the
    forecast. About eight grouped queries whatever the estate's size. The
    comparison with the capital envelope is procurement's
    (``procurement.selectors.scenario_against_envelope``).

    The envelope funds ``funded_categories`` (default the paper's four): each row
    says whether it is ``funded``; ``base_cost``, ``scenario_cost`` and ``saving``
    sum the funded rows only, and ``outside`` sums the rest (tablets), shown apart
    and never counted against the envelope."""
    funded = funded_set(funded_categories)
    financial_years = financial_years or default_financial_years()
    overrides = Overrides.from_json(scenario.overrides)
    today = timezone.localdate()
    current = financial_year(today)
    groups = groups_today(scope=scope, by_unit=False)
    in_use: dict[tuple, int] = defaultdict(int)
    for _unit, cat, *_rest, using, n in groups:
        if using:
            in_use[(None, cat)] += n
    heads, total_people = headcount(day=today, scope=scope, by_unit=False)
    base_prices = category_prices()
    scen_prices = dict(base_prices)
    scen_prices.update(overrides.unit_prices)

    def totals(ov: Overrides | None, prices):
        refresh = refresh_by_fy(groups, current=current, overrides=ov)
        rates = bau_rates(ov)
        lines = []
        for cat in CATEGORIES:
            rate = rates.get(cat)
            bau = (
                bau_volume(
                    rate=rate,
                    devices_in_use=in_use.get((None, cat), 0),
                    people=heads.get(None, 0),
                    total_people=total_people,
                )
                if rate
                else 0
            )
            for fy in financial_years:
                lines.append(
                    {
                        "fy": fy,
                        "category": cat,
                        "refresh_volume": refresh.get((None, cat, fy.start_year), 0),
                        "bau_volume": bau,
                    }
                )
        return priced_totals(
            lines,
            financial_years=financial_years,
            prices=prices,
            caps=ov.volume_caps if ov else None,
        )

    base = {(r["financial_year"], r["category"]): r for r in totals(None, base_prices)}
    scen = {(r["financial_year"], r["category"]): r for r in totals(overrides, scen_prices)}
    empty = {"refresh_volume": 0, "bau_volume": 0, "volume": 0, "cost": Decimal("0.00")}
    rows = []
    for fy in financial_years:
        for cat in CATEGORIES:
            b = base.get((fy.label, cat), empty)
            s = scen.get((fy.label, cat), empty)
            if not (b["volume"] or s["volume"]):
                continue
            rows.append(
                {
                    "financial_year": fy.label,
                    "category": cat,
                    "base_volume": b["volume"],
                    "scenario_volume": s["volume"],
                    "volume_delta": s["volume"] - b["volume"],
                    "base_cost": b["cost"],
                    "scenario_cost": s["cost"],
                    "cost_delta": s["cost"] - b["cost"],
                    "deferred_by_cap": s.get("deferred_by_cap", 0),
                    "funded": cat in funded,
                }
            )
    inside = [r for r in rows if r["funded"]]
    outside = [r for r in rows if not r["funded"]]

    def total(rows_, key, zero=Decimal(0)):
        return sum((r[key] for r in rows_), zero)

    base_cost = total(inside, "base_cost")
    scen_cost = total(inside, "scenario_cost")
    return {
        "rows": rows,
        "funded_rows": inside,
        "outside_rows": outside,
        "funded_categories": sorted(funded),
        "financial_years": [fy.label for fy in financial_years],
        "base_volume": total(inside, "base_volume", 0),
        "scenario_volume": total(inside, "scenario_volume", 0),
        "base_cost": base_cost,
        "scenario_cost": scen_cost,
        "saving": base_cost - scen_cost,
        "outside": {
            "base_volume": total(outside, "base_volume", 0),
            "scenario_volume": total(outside, "scenario_volume", 0),
            "base_cost": total(outside, "base_cost"),
            "scenario_cost": total(outside, "scenario_cost"),
        },
    }
