"""The envelope position and burn-down: exact sums and constant query counts."""

import datetime as dt
from decimal import Decimal

import pytest

from procurement import selectors, services

pytestmark = pytest.mark.usefixtures("thresholds", "authorities")
DAY = dt.date(2025, 6, 2)


@pytest.fixture(autouse=True)
def _no_forecast(monkeypatch):
    """The refresh forecast runs its own queries; leave it out of these counts."""
    import refresh.selectors

    monkeypatch.delattr(refresh.selectors, "forecast_totals", raising=False)


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
    assert row["forecast"] is None and position["forecast_available"] is False
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
    # received volumes (6). commitment_burn_down: the envelope, line years, one
    # monthly aggregate (3). The same for 1 order and 1 line as for 6 and 5.
    with django_assert_num_queries(few):
        run()
