"""Reads for refresh planning: eligibility lists, the demand forecast, baselines,
scenario comparisons and failure analytics.

The forecast works on groups, never on devices: one grouped query turns the
estate into (unit, category, purchase month, due month, flags) -> count rows
(a few thousand even at 1,000,000 devices), and the financial-year arithmetic,
BAU rates and scenario overrides are applied to those groups in Python.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection
from django.db.models import (
    Avg,
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    Value,
    When,
)
from django.db.models.functions import ExtractMonth, ExtractYear, Greatest, TruncMonth
from django.utils import timezone

from accounts.models import BusinessUnit
from core.financial_year import FinancialYear, financial_year
from devices.models import Category, Device, DeviceEvent, DeviceModel, Person
from refresh.models import (
    BaselineRow,
    BaselineSnapshot,
    BauRate,
    DeviceEligibility,
    EligibilityRun,
    RefreshPolicy,
    RefreshWave,
    Scenario,
    WaveItem,
)

CATEGORIES = [c.value for c in Category]
IN_USE = (Device.Status.DEPLOYED, Device.Status.IN_REPAIR)


def default_financial_years(today: dt.date | None = None, count: int = 5) -> list[FinancialYear]:
    start = financial_year(today or timezone.localdate())
    return [FinancialYear(start.start_year + i) for i in range(count)]


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def _fy_start(year: int, month: int) -> int:
    return year if month >= 4 else year - 1


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal("1"), rounding=ROUND_HALF_UP))


# --- Eligibility -------------------------------------------------------------------


def last_eligibility_run() -> EligibilityRun | None:
    return EligibilityRun.objects.filter(finished_at__isnull=False).first()


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
    """Eligibility rows in priority order, scoped, for keyset pagination on
    (-priority, device_id): ``after`` is the last row's (priority, device_id)."""
    from accounts.scoping import unit_scope

    scope = scope or unit_scope(user)
    qs = scope.filter(DeviceEligibility.objects.all())
    if business_unit is not None:
        qs = qs.filter(business_unit__path__startswith=business_unit.path)
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
    from accounts.scoping import unit_scope

    return (
        unit_scope(user)
        .filter(DeviceEligibility.objects.filter(device_id=device_id))
        .select_related("device", "device__device_model", "business_unit", "policy")
        .first()
    )


def eligibility_summary(*, scope) -> dict:
    qs = scope.filter(DeviceEligibility.objects.all())
    return qs.aggregate(
        devices=Count("pk"),
        due=Count("pk", filter=Q(is_due=True)),
        reclaim=Count("pk", filter=Q(reclaim=True)),
    )


# --- Forecast engine ---------------------------------------------------------------


@dataclass
class Overrides:
    """Scenario overrides, already validated (see services.scenario_overrides_clean)."""

    lifecycle_months: dict[str, int] = field(default_factory=dict)
    defer_years: dict[str, int] = field(default_factory=dict)
    volume_caps: dict[str, dict[str, int]] = field(default_factory=dict)
    unit_prices: dict[str, Decimal] = field(default_factory=dict)
    bau: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict | None) -> Overrides:
        data = data or {}
        return cls(
            lifecycle_months={k: int(v) for k, v in (data.get("lifecycle_months") or {}).items()},
            defer_years={k: int(v) for k, v in (data.get("defer_years") or {}).items()},
            volume_caps=data.get("volume_caps") or {},
            unit_prices={k: Decimal(str(v)) for k, v in (data.get("unit_prices") or {}).items()},
            bau=data.get("bau") or {},
        )


def _groups_today(*, scope=None, by_unit: bool = True) -> list[tuple]:
    """(unit, category, purchase y, m, due y, m, forced, reclaim, in_use, count)
    from the eligibility table: one grouped query. ``forced`` means due now for a
    reason other than age, which no lifecycle change undoes.

    Grouped on the purchase month and the policy, not on the due date: the due
    month is the purchase month plus the policy's lifecycle (day clamping never
    changes the month), so one date_trunc per row is all the database computes.
    """
    qs = DeviceEligibility.objects.all()
    if scope is not None:
        qs = scope.filter(qs)
    keys = ["category", "policy_id", "pmonth", "forced", "reclaim", "in_use"]
    if by_unit:
        keys.insert(0, "business_unit_id")
    rows = (
        qs.annotate(pmonth=TruncMonth("purchase_date"))
        .values(*keys)
        .annotate(n=Count("pk"))
        .order_by()
        .values_list(*keys, "n")
    )
    if not by_unit:
        rows = [(None, *r) for r in rows]
    lifecycles = dict(RefreshPolicy.objects.values_list("pk", "lifecycle_months"))
    out = []
    for unit, cat, policy_id, pmonth, forced, reclaim, in_use, n in rows:
        if pmonth is None:
            py = pm = dy = dm = None
        else:
            py, pm = pmonth.year, pmonth.month
            dy, dm = _add_months(py, pm, lifecycles[policy_id])
        out.append((unit, cat, py, pm, dy, dm, forced, reclaim, in_use, n))
    return out


def _unit_year_groups(*, current: FinancialYear, scope=None):
    """Refresh volume per (unit, category, FY start) and devices in use per
    (unit, category), from ONE grouped query over the eligibility table with the
    financial year computed in the database (the forecast's only estate scan).

    Reclaimed devices and devices without a due date are not refresh demand
    (year -1); devices due for other reasons than age, and overdue ones, count
    in the current year.
    """
    qs = DeviceEligibility.objects.all()
    if scope is not None:
        qs = scope.filter(qs)
    # Overdue devices count in the current year: clamp in the database so the
    # years before it collapse into one group per unit and category.
    fy_of_due = Greatest(
        F("due_financial_year"), Value(current.start_year), output_field=IntegerField()
    )
    rows = (
        qs.annotate(
            fy=Case(
                When(reclaim=True, then=Value(-1)),
                When(forced=True, then=Value(current.start_year)),
                When(due_financial_year__isnull=True, then=Value(-1)),
                default=fy_of_due,
                output_field=IntegerField(),
            )
        )
        .values("business_unit_id", "category", "fy", "in_use")
        .annotate(n=Count("*"))
        .order_by()
        .values_list("business_unit_id", "category", "fy", "in_use", "n")
    )
    refresh: dict[tuple, int] = defaultdict(int)
    in_use: dict[tuple, int] = defaultdict(int)
    for unit, cat, fy, using, n in rows:
        if using:
            in_use[(unit, cat)] += n
        if fy is not None and fy >= 0:
            refresh[(unit, cat, max(fy, current.start_year))] += n
    return refresh, in_use


def _estate_at(as_of: dt.date):
    """Devices in the estate on ``as_of``: bought by then, in an eligible status
    now or gone later (no disposal or loss event on or before the date)."""
    gone_by_then = DeviceEvent.objects.filter(
        device_id=OuterRef("pk"),
        kind__in=[DeviceEvent.Kind.DISPOSED, DeviceEvent.Kind.LOST],
        occurred_at__date__lte=as_of,
    )
    return Device.objects.filter(purchase_date__lte=as_of).exclude(Exists(gone_by_then))


def _groups_as_of(*, as_of: dt.date, scope=None, by_unit: bool = True) -> list[tuple]:
    """The same groups for a past date, from the estate's purchase dates with the
    policies in force on that date (age only: repair and OS history then is not
    reconstructed)."""
    from refresh.services import policies_in_force

    policies = policies_in_force(on_date=as_of)
    qs = _estate_at(as_of)
    if scope is not None:
        qs = scope.filter(qs)
    keys = ["device_model__category", "py", "pm"]
    if by_unit:
        keys.insert(0, "business_unit_id")
    rows = (
        qs.annotate(py=ExtractYear("purchase_date"), pm=ExtractMonth("purchase_date"))
        .values(*keys)
        .annotate(n=Count("pk"))
        .order_by()
        .values_list(*keys, "n")
    )
    out = []
    for row in rows:
        if not by_unit:
            row = (None, *row)
        unit, cat, py, pm, n = row
        policy = policies.get(cat)
        if policy is None:
            continue
        dy, dm = _add_months(py, pm, policy.lifecycle_months)
        out.append((unit, cat, py, pm, dy, dm, False, False, False, n))
    return out


def _people(*, day: dt.date, scope=None, by_unit: bool = True):
    """In-scope people per unit on ``day`` and the whole organisation's headcount
    (new starters are shared by headcount, so the total is never scoped)."""
    people = Person.objects.filter(start_date__lte=day).filter(
        Q(leaver_date__isnull=True) | Q(leaver_date__gt=day)
    )
    total_people = people.count()
    if scope is not None:
        people = scope.filter(people)
    if not by_unit:
        return {None: people.count() if scope is not None else total_people}, total_people
    heads = dict(
        people.values("business_unit_id")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("business_unit_id", "n")
    )
    return heads, total_people


def _devices_in_use_at(*, as_of: dt.date, scope=None) -> dict[tuple, int]:
    """Devices in use per (unit, category) on a past date (approximated: in use
    now, or gone since, and bought by then)."""
    devices = _estate_at(as_of).filter(status__in=(*IN_USE, *_GONE_STATUSES))
    if scope is not None:
        devices = scope.filter(devices)
    return {
        (unit, cat): n
        for unit, cat, n in devices.values("business_unit_id", "device_model__category")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("business_unit_id", "device_model__category", "n")
    }


# Devices that have left use since a past date still counted as in use then.
_GONE_STATUSES = (
    Device.Status.RETURNED,
    Device.Status.AWAITING_SANITISATION,
    Device.Status.SANITISED,
    Device.Status.DISPOSED,
    Device.Status.LOST_STOLEN,
)


def bau_rates(overrides: Overrides | None = None) -> dict[str, dict[str, Decimal]]:
    rates = {
        r.category: {
            "new_starters_per_year": Decimal(r.new_starters_per_year),
            "breakage_rate_pct": r.breakage_rate_pct,
            "growth_pct": r.growth_pct,
        }
        for r in BauRate.objects.all()
    }
    for cat, changed in (overrides.bau if overrides else {}).items():
        base = rates.setdefault(
            cat,
            {
                "new_starters_per_year": Decimal(0),
                "breakage_rate_pct": Decimal(0),
                "growth_pct": Decimal(0),
            },
        )
        for key, value in changed.items():
            base[key] = Decimal(str(value))
    return rates


def bau_volume(
    *, rate: dict[str, Decimal], devices_in_use: int, people: int, total_people: int
) -> int:
    """BAU demand for one unit and category in one year (business case: BAU is
    new starters, breakages and growth): new starters shared by the unit's share
    of headcount, plus breakage % and growth % of the devices in use, rounded
    half up. Negative growth can take it to zero, never below."""
    starters = (
        rate["new_starters_per_year"] * Decimal(people) / Decimal(total_people)
        if total_people
        else Decimal(0)
    )
    rest = (rate["breakage_rate_pct"] + rate["growth_pct"]) * Decimal(devices_in_use) / 100
    return max(0, _round(starters + rest))


def category_prices(overrides: Overrides | None = None) -> dict[str, Decimal]:
    """The price of one replacement per category: a scenario's price, else
    finance's planning price, else the average catalogue unit price."""
    prices = {
        row["category"]: Decimal(row["avg"]).quantize(Decimal("0.01"))
        for row in DeviceModel.objects.filter(unit_price__isnull=False)
        .values("category")
        .annotate(avg=Avg("unit_price"))
        .order_by()
        if row["avg"] is not None
    }
    for rate in BauRate.objects.filter(planning_unit_price__isnull=False):
        prices[rate.category] = rate.planning_unit_price
    if overrides:
        prices.update(overrides.unit_prices)
    return prices


def _refresh_by_fy(
    groups: list[tuple],
    *,
    current: FinancialYear,
    overrides: Overrides | None,
) -> dict[tuple, int]:
    """Fold groups into (unit, category, FY start) -> refresh volume. Overdue
    devices land in the current year; idle ones are reclaimed, not refreshed."""
    out: dict[tuple, int] = defaultdict(int)
    life = overrides.lifecycle_months if overrides else {}
    defer = overrides.defer_years if overrides else {}
    for unit, cat, py, pm, dy, dm, forced, reclaim, _in_use, n in groups:
        if reclaim:
            continue
        if forced:
            fy = current.start_year
        elif cat in life and py is not None:
            fy = max(_fy_start(*_add_months(py, pm, life[cat])), current.start_year)
        elif dy is not None:
            fy = max(_fy_start(dy, dm), current.start_year)
        else:
            continue  # no purchase date and no other reason: cannot be placed in a year
        fy += defer.get(cat, 0)
        out[(unit, cat, fy)] += n
    return out


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
        refresh, in_use = _unit_year_groups(current=current, scope=scope)
    else:
        groups = _groups_as_of(as_of=as_of, scope=scope)
        refresh = _refresh_by_fy(groups, current=current, overrides=None)
        in_use = _devices_in_use_at(as_of=as_of, scope=scope)
    heads, total_people = _people(day=today, scope=scope)
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


def _totals(lines: list[dict], *, financial_years, prices, caps=None) -> list[dict]:
    """Sum lines per (FY, category), apply volume caps (excess carries to the
    next year, so a cap defers demand rather than deleting it) and price them."""
    sums: dict[tuple[int, str], list[int]] = {}
    for fy in financial_years:
        for cat in CATEGORIES:
            sums[(fy.start_year, cat)] = [0, 0]
    for line in lines:
        key = (line["fy"].start_year, line["category"])
        if key in sums:
            sums[key][0] += line["refresh_volume"]
            sums[key][1] += line["bau_volume"]
    carry: dict[str, int] = defaultdict(int)
    out = []
    for fy in financial_years:
        for cat in CATEGORIES:
            refresh_volume, bau = sums[(fy.start_year, cat)]
            refresh_volume += carry.pop(cat, 0)
            cap = (caps or {}).get(fy.label, {}).get(cat)
            capped = 0
            if cap is not None and refresh_volume + bau > cap:
                capped = refresh_volume + bau - cap
                moved = min(capped, refresh_volume)  # BAU is need, refresh can wait
                refresh_volume -= moved
                bau -= capped - moved
                carry[cat] += capped
            if not (refresh_volume or bau or capped):
                continue
            volume = refresh_volume + bau
            price = prices.get(cat, Decimal("0.00"))
            out.append(
                {
                    "financial_year": fy.label,
                    "category": cat,
                    "refresh_volume": refresh_volume,
                    "bau_volume": bau,
                    "volume": volume,
                    "unit_price": price,
                    "cost": (price * volume).quantize(Decimal("0.01")),
                    "deferred_by_cap": capped,
                }
            )
    return out


def forecast_totals(
    *, financial_years: list[FinancialYear] | None = None, unit_scope=None
) -> list[dict]:
    """Demand per financial year and category: refresh volume, BAU volume, total
    volume and cost (Decimal, commercial: show only to finance roles).

    Keys: financial_year (label), category, refresh_volume, bau_volume, volume,
    cost. ``unit_scope`` is an ``accounts.scoping.UnitScope`` (None: whole estate).
    """
    financial_years = financial_years or default_financial_years()
    lines = forecast_lines(financial_years=financial_years, scope=unit_scope)
    return _totals(lines, financial_years=financial_years, prices=category_prices())


def refresh_due_by_unit(*, financial_years: list[FinancialYear]) -> dict[tuple[int, str, str], int]:
    """(business_unit_id, FY label, category) -> devices due for refresh in that
    year (overdue ones in the current year), from one grouped query."""
    current = financial_year(timezone.localdate())
    refresh, _in_use = _unit_year_groups(current=current)
    labels = {fy.start_year: fy.label for fy in financial_years}
    return {
        (unit, labels[fy], cat): n for (unit, cat, fy), n in refresh.items() if fy in labels and n
    }


def plan_snapshot() -> BaselineSnapshot | None:
    return BaselineSnapshot.objects.filter(is_plan=True).first()


def baseline_totals(*, snapshot: BaselineSnapshot, scope=None) -> dict[tuple[str, str], int]:
    """(FY label, category) -> refresh + BAU volume of a baseline, scoped."""
    qs = BaselineRow.objects.filter(snapshot=snapshot)
    if scope is not None:
        qs = scope.filter(qs)
    out = {}
    for fy, cat, refresh_volume, bau in (
        qs.values("financial_year", "category")
        .annotate(r=_sum("refresh_volume"), b=_sum("bau_volume"))
        .order_by()
        .values_list("financial_year", "category", "r", "b")
    ):
        out[(FinancialYear(fy).label, cat)] = (refresh_volume or 0) + (bau or 0)
    return out


def _sum(field_name):
    from django.db.models import Sum

    return Sum(field_name)


def forecast_with_variance(*, financial_years: list[FinancialYear], scope=None) -> dict:
    """Today's forecast per FY and category beside the plan baseline: variance
    and whether the forecast exceeds the plan's maximum volume."""
    rows = forecast_totals(financial_years=financial_years, unit_scope=scope)
    plan = plan_snapshot()
    planned = baseline_totals(snapshot=plan, scope=scope) if plan else {}
    for row in rows:
        baseline = planned.get((row["financial_year"], row["category"]))
        row["baseline_volume"] = baseline
        row["variance"] = None if baseline is None else row["volume"] - baseline
        row["exceeds_plan"] = baseline is not None and row["volume"] > baseline
    return {"rows": rows, "plan": plan}


# --- Scenarios ---------------------------------------------------------------------


def scenario_compare(
    *, scenario: Scenario, financial_years: list[FinancialYear] | None = None
) -> dict:
    """Baseline forecast (policies in force) and the scenario side by side per
    FY and category, with the totals over ``financial_years`` and the saving (or,
    negative, the overspend) of the scenario. Organisation-wide: about eight
    grouped queries whatever the estate's size. The comparison with the capital
    envelope is procurement's (``procurement.selectors.scenario_against_envelope``)."""
    financial_years = financial_years or default_financial_years()
    overrides = Overrides.from_json(scenario.overrides)
    today = timezone.localdate()
    current = financial_year(today)
    groups = _groups_today(by_unit=False)
    in_use: dict[tuple, int] = defaultdict(int)
    for _unit, cat, *_rest, using, n in groups:
        if using:
            in_use[(None, cat)] += n
    heads, total_people = _people(day=today, by_unit=False)
    base_prices = category_prices()
    scen_prices = dict(base_prices)
    scen_prices.update(overrides.unit_prices)

    def totals(ov: Overrides | None, prices):
        refresh = _refresh_by_fy(groups, current=current, overrides=ov)
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
        return _totals(
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
                }
            )
    base_cost = sum((r["base_cost"] for r in rows), Decimal(0))
    scen_cost = sum((r["scenario_cost"] for r in rows), Decimal(0))
    return {
        "rows": rows,
        "financial_years": [fy.label for fy in financial_years],
        "base_cost": base_cost,
        "scenario_cost": scen_cost,
        "saving": base_cost - scen_cost,
    }


# --- Failure analytics -------------------------------------------------------------

AGE_BANDS = ["0–1", "1–2", "2–3", "3–4", "4–5", "5–6", "6+"]


def failure_rates(*, scope) -> list[dict]:
    """Repairs per 100 devices by age band and category.

    Definition (shown on the page): a repair falls in the band of the device's
    age when it was repaired (whole years since purchase, 6 and over together);
    the denominator of a band is the number of devices that have reached that
    age (purchased at least that many years ago), so the rate reads as
    "repairs per 100 devices during that year of their life". Devices without a
    purchase date are left out. One statement (two grouped halves joined by
    UNION ALL), scoped by business unit.
    """
    vendor = connection.vendor
    if vendor == "postgresql":
        repair_age = "(CAST(e.occurred_at AS date) - d.purchase_date) / 365.25"
        device_age = "(CAST(%s AS date) - d.purchase_date) / 365.25"
        floor = "FLOOR"
    else:
        repair_age = "(julianday(e.occurred_at) - julianday(d.purchase_date)) / 365.25"
        device_age = "(julianday(%s) - julianday(d.purchase_date)) / 365.25"
        floor = ""
    band = "CASE WHEN {a} >= 6 THEN 6 WHEN {a} < 0 THEN 0 ELSE CAST({f}({a}) AS INTEGER) END"
    scope_sql, scope_params = "", []
    if not scope.unrestricted:
        paths = list(scope.paths) or ["\x00no-such-unit"]
        # A subtree is every unit whose path starts with the scoped unit's path.
        # Placeholders only; the paths are bound parameters.
        matches = " OR ".join("substr(path, 1, %s) = %s" for _ in paths)
        scope_sql = (
            f" AND d.business_unit_id IN (SELECT id FROM accounts_businessunit WHERE {matches})"  # noqa: S608
        )
        scope_params = [v for p in paths for v in (len(p), p)]
    today = connection.ops.adapt_datefield_value(timezone.localdate())
    # Constant fragments only; every value is a bound parameter.
    sql = f"""
SELECT 'r', dm.category, {band.format(a=repair_age, f=floor)} AS band, COUNT(*)
FROM devices_deviceevent e
JOIN devices_device d ON d.id = e.device_id
JOIN devices_devicemodel dm ON dm.id = d.device_model_id
WHERE e.kind = 'repaired' AND d.purchase_date IS NOT NULL{scope_sql}
GROUP BY dm.category, band
UNION ALL
SELECT 'd', dm.category, {band.format(a=device_age, f=floor)} AS band, COUNT(*)
FROM devices_device d
JOIN devices_devicemodel dm ON dm.id = d.device_model_id
WHERE d.purchase_date IS NOT NULL{scope_sql}
GROUP BY dm.category, band
"""  # noqa: S608
    # device_age appears three times in the band expression.
    params = [*scope_params, today, today, today, *scope_params]
    repairs: dict[tuple[str, int], int] = defaultdict(int)
    by_age: dict[tuple[str, int], int] = defaultdict(int)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for kind, cat, band_no, n in cursor.fetchall():
            target = repairs if kind == "r" else by_age
            target[(cat, int(band_no))] += n
    out = []
    for cat in CATEGORIES:
        # Devices that reached band b: those now in band b or older.
        reached = 0
        reached_by_band = {}
        for b in range(6, -1, -1):
            reached += by_age.get((cat, b), 0)
            reached_by_band[b] = reached
        if not reached_by_band[0]:
            continue
        for b, label in enumerate(AGE_BANDS):
            devices = reached_by_band[b]
            n = repairs.get((cat, b), 0)
            rate = (Decimal(n) * 100 / devices).quantize(Decimal("0.1")) if devices else None
            out.append(
                {"category": cat, "band": label, "repairs": n, "devices": devices, "rate": rate}
            )
    return out


# --- Waves -------------------------------------------------------------------------


def wave_list(*, scope):
    """Waves whose unit is in scope (waves for the whole estate only for the unrestricted)."""
    qs = RefreshWave.objects.select_related("business_unit", "created_by")
    if not scope.unrestricted:
        qs = scope.filter(qs.filter(business_unit__isnull=False))
    return qs.annotate(
        item_count=Count("items"),
        completed_count=Count("items", filter=Q(items__status=WaveItem.Status.COMPLETED)),
        cancelled_count=Count("items", filter=Q(items__status=WaveItem.Status.CANCELLED)),
    ).order_by("-created_at", "-id")


def wave_items(*, wave: RefreshWave, scope):
    return (
        scope.filter(wave.items.all())
        .select_related("old_device", "new_device", "person", "business_unit", "at_confirmation")
        .order_by("-priority", "id")
    )


def stock_for_item(*, item: WaveItem, limit: int = 20):
    """In-stock devices that could be allocated to a swap (first few by age, newest first)."""
    from refresh.services import CENTRAL_STORE_MARKERS

    allocated = (
        WaveItem.objects.exclude(status=WaveItem.Status.CANCELLED)
        .filter(new_device__isnull=False)
        .values("new_device_id")
    )
    central = Q()
    for marker in CENTRAL_STORE_MARKERS:
        central |= Q(business_unit__code__icontains=marker)
    return (
        Device.objects.filter(status=Device.Status.IN_STOCK, device_model__category=item.category)
        .filter(Q(business_unit_id=item.person.business_unit_id) | central)
        .exclude(pk__in=allocated)
        .select_related("device_model")
        .order_by("-purchase_date", "id")[:limit]
    )


def policies_current() -> list[RefreshPolicy]:
    from refresh.services import policies_in_force

    return sorted(
        policies_in_force(on_date=timezone.localdate()).values(), key=lambda p: p.category
    )
