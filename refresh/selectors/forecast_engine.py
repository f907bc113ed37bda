"""The forecast engine: the estate folded into groups, and the arithmetic on them.

The forecast works on groups, never on devices: one grouped query turns the
estate into (unit, category, purchase month, due month, flags) -> count rows
(a few thousand even at 1,000,000 devices), and the financial-year arithmetic,
BAU rates and scenario overrides are applied to those groups in Python.
``refresh.selectors.forecast`` and ``refresh.selectors.scenarios`` build their
reads from these functions. Today's forecast (``unit_year_groups``, ``headcount``)
and scenarios (``groups_today``) read counts the database keeps on every write
(``EligibilityCount``, ``PersonCount``, ``ScenarioGroupCount``) instead of grouping
a million rows per request. A ``scope`` of None means the whole estate.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import (
    Avg,
    BigIntegerField,
    Count,
    Exists,
    Func,
    OuterRef,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce, ExtractMonth, ExtractYear
from django.utils import timezone

from core.financial_year import FinancialYear, financial_year
from devices.models import Category, Device, DeviceEvent, DeviceModel, Person
from refresh.models import (
    BauRate,
    EligibilityCount,
    PersonCount,
    RefreshPolicy,
    ScenarioGroupCount,
)
from refresh.selectors.due import refresh_year
from refresh.selectors.policies import policies_in_force

CATEGORIES = [c.value for c in Category]
IN_USE = (Device.Status.DEPLOYED, Device.Status.IN_REPAIR)

# The categories the capital envelope funds, from the paper "EUS Device demand
# 2025/26 & 2026/27" (MOPAC Investment Advisory & Monitoring): demand for
# "laptops, desktops, monitors, and smartphones". Tablets are a legacy category the
# paper does not fund: their demand is forecast and shown apart, never counted
# against the envelope. Procurement keeps each envelope's own list as data and
# passes it to the forecast selectors (``funded_categories``); this is the default
# when a caller has none (procurement sits above refresh, so refresh cannot read it).
PAPER_FUNDED_CATEGORIES = frozenset(
    {Category.LAPTOP, Category.DESKTOP, Category.MONITOR, Category.SMARTPHONE}
)


def funded_set(funded_categories=None) -> frozenset[str]:
    """The funded categories as a set of values: ``funded_categories`` when given
    (any iterable of category values), else the paper's four."""
    if funded_categories is None:
        return frozenset(str(c) for c in PAPER_FUNDED_CATEGORIES)
    return frozenset(str(c) for c in funded_categories)


def default_financial_years(today: dt.date | None = None, count: int = 5) -> list[FinancialYear]:
    start = financial_year(today or timezone.localdate())
    return [FinancialYear(start.start_year + i) for i in range(count)]


# The financial years a forecast may be asked for (a year outside has no dates
# Python can hold at its far end, or no meaning for this plan).
FIRST_PLANNING_YEAR = 2000
LAST_PLANNING_YEAR = 2100


def financial_year_in_range(label: str) -> FinancialYear:
    """Parse a financial year label and refuse one outside the planning range
    (ValueError with the reason)."""
    fy = FinancialYear.parse(label)
    if not FIRST_PLANNING_YEAR <= fy.start_year <= LAST_PLANNING_YEAR:
        raise ValueError(
            f"Give a financial year from {FinancialYear(FIRST_PLANNING_YEAR).label} "
            f"to {FinancialYear(LAST_PLANNING_YEAR).label}."
        )
    return fy


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def _fy_start(year: int, month: int) -> int:
    return year if month >= 4 else year - 1


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal("1"), rounding=ROUND_HALF_UP))


@dataclass
class Overrides:
    """Scenario overrides, already validated (see ``refresh.services.scenario_overrides_clean``)."""

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


def groups_today(*, scope=None, by_unit: bool = True) -> list[tuple]:
    """(unit, category, purchase y, m, due y, m, forced, reclaim, in_use, count)
    from the scenario counts the database keeps (``ScenarioGroupCount``, a few
    thousand rows at 1,000,000 devices) rather than a grouped scan of the
    eligibility table per request. ``forced`` means due now for a reason other than
    age, which no lifecycle change undoes.

    Kept on the purchase month and the policy, not on the due date: the due month
    is the purchase month plus the policy's lifecycle (day clamping never changes
    the month), placed here so a changed lifecycle needs no rewrite of the counts.
    """
    qs = ScenarioGroupCount.objects.within(scope).filter(devices__gt=0).order_by()
    keys = ["category", "policy_id", "purchase_month", "forced", "reclaim", "in_use"]
    if by_unit:
        rows = qs.values_list("business_unit_id", *keys, "devices")
    else:
        # The units' positive counts summed: a key's total is never zero.
        rows = [
            (None, *r) for r in qs.values(*keys).annotate(n=Sum("devices")).values_list(*keys, "n")
        ]
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


def unit_year_groups(*, current: FinancialYear, scope=None):
    """Refresh volume per (unit, category, FY start) and devices in use per
    (unit, category), from the eligibility counts the database keeps
    (``EligibilityCount``, a few thousand rows at 1,000,000 devices) rather than a
    grouped scan of the eligibility table per request.

    Reclaimed devices and devices without a due date are not refresh demand;
    devices due for other reasons than age, and overdue ones, count in the
    current year. The years are placed here, not in the table, because the
    current year moves while the counts stand still.
    """
    rows = (
        EligibilityCount.objects.within(scope)
        .filter(devices__gt=0)
        .order_by()
        .values_list(
            "business_unit_id",
            "category",
            "due_financial_year",
            "reclaim",
            "forced",
            "in_use",
            "devices",
        )
    )
    refresh: dict[tuple, int] = defaultdict(int)
    in_use: dict[tuple, int] = defaultdict(int)
    for unit, cat, due_fy, reclaim, forced, using, n in rows:
        if using:
            in_use[(unit, cat)] += n
        year = refresh_year(
            current_start_year=current.start_year, due_fy=due_fy, is_forced=forced, reclaim=reclaim
        )
        if year is not None:
            refresh[(unit, cat, year)] += n
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


def groups_as_of(*, as_of: dt.date, scope=None, by_unit: bool = True) -> list[tuple]:
    """The same groups for a past date, from the estate's purchase dates with the
    policies in force on that date (age only: repair and OS history then is not
    reconstructed)."""
    policies = policies_in_force(on_date=as_of)
    qs = _estate_at(as_of).within(scope)
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


def headcount(*, day: dt.date, scope=None, by_unit: bool = True):
    """In-scope people per unit on ``day`` and the whole organisation's headcount
    (new starters are shared by headcount, so the total is never scoped).

    A person counts on ``day`` from their start date until the day before they
    leave. Read as the people each unit holds (``PersonCount``, kept by the
    database) less the people outside the day: those starting after it and those
    gone by it, few of either and counted from the indexes on those dates, so no
    request counts every person. The two are disjoint (the database refuses a
    leaving date before the start date), so they are summed. Units with nobody in
    on the day are left out, as a grouped count leaves them out. Queries: two per
    unit breakdown, one per total.
    """
    unscoped = scope is None or getattr(scope, "unrestricted", False)

    def outside(within):
        people = Person.objects.within(within).order_by()
        return people.filter(start_date__gt=day), people.filter(leaver_date__lte=day)

    def total(within) -> int:
        """One query: the people held less those outside the day."""
        if within is not None and within.empty:
            return 0
        starting, gone = (
            # COUNT(*) without GROUP BY: one row, read from the index alone.
            qs.annotate(n=Func(template="COUNT(*)", output_field=BigIntegerField())).values("n")
            for qs in outside(within)
        )
        held = Coalesce(Sum("people"), 0)
        return PersonCount.objects.within(within).aggregate(
            n=held - Subquery(starting) - Subquery(gone)
        )["n"]

    if not by_unit:
        total_people = total(None)
        return {None: total_people if unscoped else total(scope)}, total_people
    held = dict(
        PersonCount.objects.within(scope)
        .filter(people__gt=0)
        .values_list("business_unit_id", "people")
    )
    starting, gone = (
        qs.values("business_unit_id").annotate(n=Count("*")).values_list("business_unit_id", "n")
        for qs in outside(scope)
    )
    heads = dict(held)
    for unit, n in starting.union(gone, all=True):
        heads[unit] = heads.get(unit, 0) - n
    heads = {unit: n for unit, n in heads.items() if n > 0}
    return heads, sum(heads.values()) if unscoped else total(None)


def devices_in_use_at(*, as_of: dt.date, scope=None) -> dict[tuple, int]:
    """Devices in use per (unit, category) on a past date (approximated: in use
    now, or gone since, and bought by then)."""
    devices = _estate_at(as_of).filter(status__in=(*IN_USE, *_GONE_STATUSES)).within(scope)
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


def refresh_by_fy(
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


def priced_totals(lines: list[dict], *, financial_years, prices, caps=None) -> list[dict]:
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
