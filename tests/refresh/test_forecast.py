import datetime as dt
from decimal import Decimal

import pytest
from freezegun import freeze_time

from accounts.scoping import UnitScope
from core.financial_year import FinancialYear
from devices.models import Category, Device, DeviceEvent
from refresh import selectors, services
from refresh.models import BaselineRow
from tests.factories import (
    BusinessUnitFactory,
    DeviceEventFactory,
    DeviceFactory,
    DeviceModelFactory,
    PersonFactory,
)

pytestmark = pytest.mark.django_db

FY25, FY26, FY27 = FinancialYear(2025), FinancialYear(2026), FinancialYear(2027)


@pytest.fixture
def estate(policies):
    """Two units; laptops (48 months) bought so they fall due in known years."""
    a = BusinessUnitFactory(code="A")
    b = BusinessUnitFactory(code="B")
    made = {"a": a, "b": b}
    # overdue (due 2024) -> current year 2025/26
    made["overdue"] = [
        DeviceFactory(business_unit=a, purchase_date=dt.date(2020, 5, 1)) for _ in range(2)
    ]
    # due 31 March 2026 -> 2025/26; due 1 April 2026 -> 2026/27
    made["due_fy25"] = [DeviceFactory(business_unit=b, purchase_date=dt.date(2022, 3, 31))]
    made["due_fy26"] = [
        DeviceFactory(business_unit=b, purchase_date=dt.date(2022, 4, 1)) for _ in range(3)
    ]
    # disposed: never counted
    DeviceFactory(
        business_unit=a,
        purchase_date=dt.date(2020, 5, 1),
        status=Device.Status.DISPOSED,
        historical=True,  # disposed before records began: no disposal case needed
    )
    return made


@freeze_time("2025-06-15 12:00:00")
def test_refresh_demand_counts_each_due_device_once_in_its_financial_year(estate):
    services.eligibility_recompute()
    totals = selectors.forecast_totals(financial_years=[FY25, FY26, FY27])
    laptop = {r["financial_year"]: r["refresh_volume"] for r in totals if r["category"] == "laptop"}
    assert laptop == {"2025/26": 3, "2026/27": 3}
    # the sums equal the devices they count
    assert sum(laptop.values()) == len(estate["overdue"]) + len(estate["due_fy25"]) + len(
        estate["due_fy26"]
    )


@freeze_time("2025-06-15 12:00:00")
def test_refresh_due_by_unit_is_keyed_by_unit_year_and_category(estate):
    services.eligibility_recompute()
    due = selectors.refresh_due_by_unit(financial_years=[FY25, FY26])
    assert due == {
        (estate["a"].pk, "2025/26", "laptop"): 2,
        (estate["b"].pk, "2025/26", "laptop"): 1,
        (estate["b"].pk, "2026/27", "laptop"): 3,
    }


@freeze_time("2025-06-15 12:00:00")
def test_forecast_totals_respect_unit_scope(estate):
    services.eligibility_recompute()
    scope = UnitScope(unrestricted=False, paths=(estate["a"].path,))
    totals = selectors.forecast_totals(financial_years=[FY25, FY26], unit_scope=scope)
    assert [(r["financial_year"], r["category"], r["refresh_volume"]) for r in totals] == [
        ("2025/26", "laptop", 2)
    ]


@freeze_time("2025-06-15 12:00:00")
def test_bau_is_new_starters_by_headcount_share_plus_breakage_and_growth(policies):
    # given unit A with 1 of 4 people and 10 deployed laptops, unit B with 3 people
    a, b = BusinessUnitFactory(code="A"), BusinessUnitFactory(code="B")
    people_a = [PersonFactory(business_unit=a)]
    for _ in range(3):
        PersonFactory(business_unit=b)
    for _ in range(10):
        DeviceFactory(
            business_unit=a,
            status=Device.Status.DEPLOYED,
            assigned_to=people_a[0],
            purchase_date=dt.date(2024, 6, 1),
        )
    services.bau_rate_save(
        category=Category.LAPTOP,
        new_starters_per_year=40,
        breakage_rate_pct=Decimal("10"),
        growth_pct=Decimal("10"),
        planning_unit_price=Decimal("1000.00"),
    )
    services.eligibility_recompute()
    lines = selectors.forecast_lines(financial_years=[FY25])
    bau = {(line["business_unit_id"], line["category"]): line["bau_volume"] for line in lines}
    # then A: 40 x 1/4 + 20% of 10 = 12; B: 40 x 3/4 = 30
    assert bau[(a.pk, "laptop")] == 12
    assert bau[(b.pk, "laptop")] == 30
    totals = selectors.forecast_totals(financial_years=[FY25])
    laptop = next(r for r in totals if r["category"] == "laptop")
    assert laptop["bau_volume"] == 42
    assert laptop["volume"] == 42
    assert laptop["cost"] == Decimal("42000.00")


@freeze_time("2025-06-15 12:00:00")
def test_cost_falls_back_to_the_average_catalogue_price(estate):
    DeviceModelFactory(name="Other laptop", unit_price=Decimal("1101.00"))
    services.eligibility_recompute()
    totals = selectors.forecast_totals(financial_years=[FY25])
    laptop = next(r for r in totals if r["category"] == "laptop")
    assert laptop["cost"] == Decimal("1000.00") * 3


@freeze_time("2025-06-15 12:00:00")
def test_forecast_exceeding_the_plan_is_flagged_with_its_variance(estate):
    # given a plan baselined on 30 November 2024
    services.baseline_snapshot_create(
        name="Late 2024", as_of=dt.date(2024, 11, 30), financial_years=[FY25, FY26], is_plan=True
    )
    services.eligibility_recompute()
    before = {
        (r["financial_year"], r["category"]): r
        for r in selectors.forecast_with_variance(financial_years=[FY25, FY26])["rows"]
    }
    # when two more laptops arrive that fall due in 2026/27
    DeviceFactory(business_unit=estate["b"], purchase_date=dt.date(2022, 4, 2))
    DeviceFactory(business_unit=estate["b"], purchase_date=dt.date(2022, 4, 3))
    services.eligibility_recompute()
    result = selectors.forecast_with_variance(financial_years=[FY25, FY26])
    rows = {(r["financial_year"], r["category"]): r for r in result["rows"]}
    # then 2026/27 exceeds the plan by two, where before it matched it exactly
    assert before[("2026/27", "laptop")]["variance"] == 0
    assert before[("2026/27", "laptop")]["exceeds_plan"] is False
    assert rows[("2026/27", "laptop")]["baseline_volume"] == 3
    assert rows[("2026/27", "laptop")]["variance"] == 2
    assert rows[("2026/27", "laptop")]["exceeds_plan"] is True
    # and the two laptops the plan expected in 2024/25 but still in use roll into 2025/26
    assert rows[("2025/26", "laptop")]["baseline_volume"] == 1
    assert rows[("2025/26", "laptop")]["variance"] == 2


def test_baseline_uses_the_estate_and_policies_of_its_date(estate):
    # given a laptop bought after the baseline date, and a device disposed before it
    DeviceFactory(business_unit=estate["a"], purchase_date=dt.date(2025, 1, 1))
    gone = DeviceFactory(
        business_unit=estate["a"],
        purchase_date=dt.date(2020, 5, 1),
        status=Device.Status.DISPOSED,
        historical=True,
    )
    DeviceEventFactory(
        device=gone,
        kind=DeviceEvent.Kind.DISPOSED,
        occurred_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    )
    snapshot = services.baseline_snapshot_create(
        name="Late 2024",
        as_of=dt.date(2024, 11, 30),
        financial_years=[FinancialYear(2024), FY25, FY26],
    )
    refresh = {
        (r.business_unit_id, r.financial_year): r.refresh_volume
        for r in BaselineRow.objects.filter(snapshot=snapshot, category="laptop")
    }
    # the two overdue at A fell due in 2024/25, plus the device disposed after the date;
    # the one disposed before it and the one bought after it are not there
    assert refresh[(estate["a"].pk, 2024)] == 3
    assert refresh[(estate["b"].pk, 2025)] == 1
    assert refresh[(estate["b"].pk, 2026)] == 3
