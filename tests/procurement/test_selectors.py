"""The envelope position and burn-down: exact sums and constant query counts."""

import datetime as dt
from decimal import Decimal

import pytest
from freezegun import freeze_time

from procurement import selectors, services
from tests.procurement.conftest import approve_on

pytestmark = pytest.mark.usefixtures("thresholds", "authorities")
DAY = dt.date(2025, 6, 2)


def _approve(order, approver, on_date=DAY):
    approve_on(order, approver, on_date)


def test_position_sums_commitments_and_receipts_per_line(
    make_order, commercial_officer, laptop_line, asset_manager
):
    # Given two approved orders, one of them ordered and half received
    first = make_order("1000.00", quantity=2)
    second = make_order("500.00")
    make_order("999.00")  # submitted only: not committed
    _approve(first, commercial_officer)
    _approve(second, commercial_officer)
    services.purchase_order_mark_ordered(purchase_order=first, actor=commercial_officer)
    services.purchase_order_receive(
        line=first.lines.get(),
        serial_numbers=["R1"],
        received_by=asset_manager,
        received_on=dt.date(2025, 7, 1),
    )

    position = selectors.envelope_position()

    row = next(r for r in position["rows"] if r["budget_line_id"] == laptop_line.pk)
    assert row["committed"] == Decimal("1500.00")
    assert row["received"] == Decimal("500.00")
    assert row["headroom"] == laptop_line.amount - Decimal("1500.00")
    # 2025/26 has closed (the clock is not frozen): no demand is still to be bought
    # against it, so its headroom is what is left uncommitted, and it says so.
    assert row["closed"] is True and row["signal"] == "closed"
    assert row["outstanding_cost"] == Decimal("0") and row["forecast_cost"] == Decimal("0")
    assert position["headroom"] == Decimal("46763000.00") - Decimal("1500.00")
    # As of the day before the receipt, nothing was received yet
    earlier = selectors.envelope_position(as_of=dt.date(2025, 6, 30))
    assert earlier["received"] == Decimal("0")
    assert earlier["committed"] == Decimal("1500.00")


def test_burn_down_accumulates_by_month_of_approval(make_order, commercial_officer):
    _approve(make_order("100.00"), commercial_officer, dt.date(2025, 5, 3))
    _approve(make_order("250.00"), commercial_officer, dt.date(2025, 7, 30))

    rows = {row["month"]: row for row in selectors.commitment_burn_down()}

    assert rows[dt.date(2025, 4, 1)]["cumulative_committed"] == 0
    assert rows[dt.date(2025, 5, 1)]["cumulative_committed"] == Decimal("100.00")
    assert rows[dt.date(2025, 6, 1)]["cumulative_committed"] == Decimal("100.00")
    assert rows[dt.date(2025, 7, 1)]["cumulative_committed"] == Decimal("350.00")
    assert list(rows)[-1] == dt.date(2026, 3, 1)


@pytest.mark.parametrize("selector", ["envelope_position", "commitment_burn_down"])
def test_report_selectors_run_a_constant_number_of_queries(
    selector, make_order, commercial_officer, envelope, django_assert_num_queries
):
    _approve(make_order("10.00"), commercial_officer)
    run = getattr(selectors, selector)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        run()
    few = len(ctx.captured_queries)
    for _ in range(5):
        _approve(make_order("10.00"), commercial_officer)
    for category in ("desktop", "monitor", "smartphone"):
        services.budget_line_create(
            envelope=envelope, financial_year="2025/26", category=category, amount=Decimal("1")
        )
    # envelope_position: the envelope, its lines, commitments, receipts, ordered and
    # received volumes (6), the plan baseline (1-2), then refresh's forecast for the
    # lines' open years (its own grouped queries, as many for one line as for four).
    # commitment_burn_down: the envelope, line years, one monthly aggregate (3). The
    # same for 1 order and 1 line as for 6 orders and 4 lines.
    with django_assert_num_queries(few):
        run()


@freeze_time("2025-06-15 12:00:00")
def test_position_carries_the_refresh_forecast_of_each_line(laptop_line, refresh_estate):
    """The seam with refresh, through the real forecast: four laptops bought in
    September 2021 reach their 48-month lifecycle in 2025/26 at the £1,000 planning
    price; no BAU demand without people."""
    position = selectors.envelope_position()

    row = next(r for r in position["rows"] if r["budget_line_id"] == laptop_line.pk)
    assert (row["forecast_cost"], row["forecast_volume"]) == (Decimal("4000.00"), 4)
    # Nothing ordered yet: all of it is demand still to buy, counted in the headroom.
    assert row["outstanding_cost"] == Decimal("4000.00")
    assert row["headroom"] == laptop_line.amount - Decimal("4000.00")


@freeze_time("2025-06-15 12:00:00")
def test_a_scenario_is_compared_with_the_envelope_over_its_years(
    laptop_line, refresh_estate, asset_manager
):
    """Cheaper laptops (£800) in a refresh scenario: the headroom gained and the
    headroom left in the envelope, from refresh's real forecast."""
    from refresh import services as refresh_services

    scenario = refresh_services.scenario_save(
        name="Cheaper laptops", overrides={"unit_prices": {"laptop": "800"}}, actor=asset_manager
    )

    comparison = selectors.scenario_envelope(scenario=scenario)

    assert comparison["financial_years"] == ["2025/26"]
    base = comparison["base"]["rows"][0]
    moved = comparison["scenario"]["rows"][0]
    assert (base["outstanding_cost"], moved["outstanding_cost"]) == (
        Decimal("4000.00"),
        Decimal("3200.00"),
    )
    # The same headroom sum as the envelope page, with the scenario's forecast.
    assert comparison["base_headroom"] == selectors.headroom()["headroom"]
    assert comparison["saving"] == Decimal("800.00")
    assert comparison["scenario_headroom"] == Decimal("46763000.00") - Decimal("3200.00")
