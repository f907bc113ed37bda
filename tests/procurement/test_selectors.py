"""The envelope position and burn-down: exact sums and constant query counts."""

import datetime as dt
from decimal import Decimal

import pytest
from freezegun import freeze_time

from procurement import selectors, services

pytestmark = pytest.mark.usefixtures("thresholds", "authorities")
DAY = dt.date(2025, 6, 2)


def _approve(order, approver, on_date=DAY):
    services.purchase_order_approve(purchase_order=order, approved_by=approver, on_date=on_date)


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
    # No devices and no refresh policies: refresh forecasts no demand, and says so.
    assert row["forecast"] == Decimal("0") and position["forecast_available"] is True
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
    for category in ("desktop", "monitor", "smartphone", "tablet"):
        services.budget_line_create(
            envelope=envelope, financial_year="2025/26", category=category, amount=Decimal("1")
        )
    # envelope_position: the envelope, its lines, commitments, receipts, ordered and
    # received volumes (6), then refresh's forecast for the lines' years (its own
    # grouped queries, as many for one line as for five). commitment_burn_down: the envelope, line years, one
    # monthly aggregate (3). The same for 1 order and 1 line as for 6 and 5.
    with django_assert_num_queries(few):
        run()


@freeze_time("2025-06-15 12:00:00")
def test_position_carries_the_refresh_forecast_of_each_line(laptop_line, refresh_estate):
    """The seam with refresh, through the real forecast: four laptops bought in
    September 2021 reach their 48-month lifecycle in 2025/26 at the £1,000 planning
    price; no BAU demand without people."""
    position = selectors.envelope_position()

    row = next(r for r in position["rows"] if r["budget_line_id"] == laptop_line.pk)
    assert (row["forecast"], row["forecast_volume"]) == (Decimal("4000.00"), 4)


@freeze_time("2025-06-15 12:00:00")
def test_a_scenario_is_compared_with_the_envelope_over_its_years(
    laptop_line, refresh_estate, asset_manager
):
    """Cheaper laptops (£800) in a refresh scenario: the saving and the headroom left
    in the envelope, over the envelope's own years, from refresh's real forecast."""
    from refresh import services as refresh_services

    scenario = refresh_services.scenario_save(
        name="Cheaper laptops", overrides={"unit_prices": {"laptop": "800"}}, actor=asset_manager
    )

    comparison = selectors.scenario_against_envelope(scenario=scenario)

    assert comparison["financial_years"] == ["2025/26"]
    assert (comparison["base_cost"], comparison["scenario_cost"]) == (
        Decimal("4000.00"),
        Decimal("3200.00"),
    )
    assert comparison["saving"] == Decimal("800.00")
    assert comparison["scenario_headroom"] == Decimal("46763000.00") - Decimal("3200.00")
