"""One refresh rule, two formulations: the nightly eligibility statement applies it to
every device in SQL (and the forecast reads its kept counts), the stewardship report
applies it to the estate as at a period's end in Python (``refresh.selectors.due``).
On an estate where nothing changed since the period's end, both must place the same
devices in the same unit, year and category, whatever makes them due: age (with
month-end purchase dates), repairs, a model or an operating system out of support,
idle devices reclaimed, statuses that are not eligible."""

import datetime as dt
import itertools
import random
from collections import Counter

import pytest
from django.db import transaction
from freezegun import freeze_time

from core.financial_year import financial_year
from devices.models import Category, Device, DeviceEvent
from refresh import services as refresh_services
from refresh.models import OsEndOfSupport
from refresh.selectors.forecast_engine import unit_year_groups
from reports.selectors import as_at
from reports.selectors.periods import period_bounds
from reports.selectors.refresh_due import refresh_due_as_at
from tests.factories import (
    BusinessUnitFactory,
    DeviceEventFactory,
    DeviceFactory,
    DeviceModelFactory,
    PersonFactory,
)

D = Device.Status
PERIOD_START, PERIOD_END = dt.date(2026, 10, 1), dt.date(2026, 10, 31)
# The last second of October in London (GMT since 25 October).
LAST_SECOND = "2026-10-31 23:59:59"


@pytest.fixture
def estate(db):
    rng = random.Random(20261031)  # noqa: S311 - test data, not security
    for category, lifecycle, threshold, idle, os_forces in (
        (Category.LAPTOP, 48, 3, 90, True),
        (Category.DESKTOP, 60, 2, 120, False),
        (Category.MONITOR, 84, 0, 90, False),
        (Category.SMARTPHONE, 36, 2, 60, True),
        (Category.TABLET, 48, 0, 90, True),
    ):
        refresh_services.refresh_policy_create(
            category=category,
            effective_from=dt.date(2015, 1, 1),
            lifecycle_months=lifecycle,
            repair_threshold=threshold,
            idle_days=idle,
            os_end_of_support_forces_refresh=os_forces,
        )
    OsEndOfSupport.objects.create(os_prefix="Windows 10", end_of_support=dt.date(2025, 10, 14))
    OsEndOfSupport.objects.create(os_prefix="iOS 16", end_of_support=dt.date(2026, 12, 31))
    models = [
        DeviceModelFactory(name="Latitude 5440", category=Category.LAPTOP),
        DeviceModelFactory(
            name="Latitude 7400", category=Category.LAPTOP, end_of_support=dt.date(2025, 6, 30)
        ),
        DeviceModelFactory(name="OptiPlex 7010", category=Category.DESKTOP),
        DeviceModelFactory(name="P2422H", category=Category.MONITOR),
        DeviceModelFactory(name="iPhone 13", category=Category.SMARTPHONE),
        DeviceModelFactory(
            name="iPhone 8", category=Category.SMARTPHONE, end_of_support=dt.date(2026, 10, 31)
        ),
        DeviceModelFactory(name="iPad 9", category=Category.TABLET),
    ]
    units = [BusinessUnitFactory(code=code) for code in ("N", "S", "E")]
    people = [PersonFactory(business_unit=units[i % 3]) for i in range(30)]
    operating_systems = ["", "Windows 10 22H2", "Windows 11 23H2", "iOS 16.7", "iOS 17.5"]
    statuses = [D.DEPLOYED] * 5 + [D.IN_REPAIR, D.IN_STOCK, D.IN_STOCK, D.RETURNED, D.LOST_STOLEN]
    cut_day = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    for n in range(240):
        status = rng.choice(statuses)
        # Purchase dates from 2014 to 2026, month ends among them (day clamping).
        year, month = rng.randint(2014, 2026), rng.randint(1, 12)
        day = rng.choice([1, 15, 28, 29 if month != 2 else 28, 30 if month != 2 else 28, 31])
        day = min(day, (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day)
        device = DeviceFactory(
            device_model=rng.choice(models),
            business_unit=rng.choice(units),
            status=status,
            assigned_to=rng.choice(people) if status in (D.DEPLOYED, D.IN_REPAIR) else None,
            purchase_date=None if n % 37 == 0 else dt.date(year, month, day),
            os_version=rng.choice(operating_systems),
            # Seen between 2 and 400 days before the period's end, at midday; some never.
            last_seen=None
            if n % 11 == 0
            else cut_day - dt.timedelta(days=rng.randint(2, 400), hours=12),
        )
        for _ in range(rng.choice([0, 0, 0, 1, 2, 3])):
            DeviceEventFactory(
                device=device,
                kind=DeviceEvent.Kind.REPAIRED,
                occurred_at=cut_day - dt.timedelta(days=rng.randint(1, 900)),
            )
    return units


def _by_the_report() -> Counter:
    start, cut = period_bounds(PERIOD_START, PERIOD_END)
    params = as_at.params(cut, PERIOD_END)
    with transaction.atomic():
        as_at.prepare(params)
        due, years = refresh_due_as_at(unit_ids=None, period_end=PERIOD_END, cut_params=params)
    start_year = {fy.label: fy.start_year for fy in years}
    return Counter({(unit, start_year[label], cat): n for (unit, label, cat), n in due.items()})


def _by_the_nightly_counts() -> Counter:
    current = financial_year(PERIOD_END)
    refresh, _ = unit_year_groups(current=current)
    years = {current.start_year, current.next().start_year}
    return Counter(
        {(unit, year, cat): n for (unit, cat, year), n in refresh.items() if year in years and n}
    )


def test_the_report_and_the_nightly_eligibility_place_the_same_devices_in_the_same_years(
    estate,
):
    with freeze_time(LAST_SECOND):
        refresh_services.eligibility_recompute(today=PERIOD_END)
    report = _by_the_report()
    nightly = _by_the_nightly_counts()
    assert report == nightly
    # Not agreement by emptiness: both years, every category and each forcing reason
    # are in play.
    assert {year for _, year, _ in report} == {2026, 2027}
    assert {cat for _, _, cat in report} == set(Category.values)
    assert sum(report.values()) > 60
    from refresh.models import DeviceEligibility

    reasons = DeviceEligibility.objects.filter(forced=True)
    assert reasons.filter(reason_repairs=True).exists()
    assert reasons.filter(reason_model_end_of_support=True).exists()
    assert reasons.filter(reason_os_end_of_support=True).exists()
    assert DeviceEligibility.objects.filter(reclaim=True).exists()


@pytest.mark.parametrize(
    ("purchase", "lifecycle", "expected"),
    [
        ((2022, 3), 48, 2025),  # due March 2026: the year that began April 2025
        ((2022, 4), 48, 2026),  # due April 2026
        ((2021, 12), 3, 2021),  # due March 2022
        ((2020, 1), 84, 2026),  # due January 2027
    ],
)
def test_the_due_financial_year_of_a_purchase_month(purchase, lifecycle, expected):
    from refresh.selectors.due import due_financial_year

    assert due_financial_year(*purchase, lifecycle) == expected


def test_the_rule_on_its_own_places_forced_reclaimed_and_overdue_devices():
    from refresh.selectors.due import refresh_year

    cases = itertools.product([None, 2024, 2026, 2028], [False, True], [False, True])
    for due_fy, is_forced, reclaim in cases:
        year = refresh_year(
            current_start_year=2026, due_fy=due_fy, is_forced=is_forced, reclaim=reclaim
        )
        if reclaim:
            assert year is None
        elif is_forced:
            assert year == 2026
        elif due_fy is None:
            assert year is None
        else:
            assert year == max(due_fy, 2026)
