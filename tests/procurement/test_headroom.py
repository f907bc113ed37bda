"""One headroom (procurement.selectors.headroom): per financial year and budget line,
budget − committed − forecast cost of demand not yet ordered, each term shown; lines
and years over budget or over the plan's volume flagged; closed years marked; the
envelope's scope is data, and demand outside it is shown apart, never counted."""

import datetime as dt
from decimal import Decimal

import pytest
from freezegun import freeze_time

from accounts.roles import Role
from core.errors import DomainError
from procurement import selectors, services
from tests.factories import (
    BusinessUnitFactory,
    DeviceFactory,
    DeviceModelFactory,
    UserFactory,
)
from tests.procurement.conftest import approve_on

pytestmark = pytest.mark.usefixtures("thresholds", "authorities")
OPEN = "2025-06-15 12:00:00"


def _row(position, line):
    return next(r for r in position["rows"] if r["budget_line_id"] == line.pk)


@freeze_time(OPEN)
def test_headroom_is_budget_less_committed_less_demand_not_yet_ordered(
    make_order, commercial_officer, laptop_line, refresh_estate
):
    # Given four laptops forecast at £1,000 (refresh's real forecast) and one of them
    # already on an approved order of £1,500
    approve_on(make_order("1500.00"), commercial_officer, dt.date(2025, 6, 15))

    row = _row(selectors.headroom(), laptop_line)

    # Then each term is shown and the sum holds
    assert (row["budget"], row["committed"]) == (Decimal("1000000.00"), Decimal("1500.00"))
    assert (row["forecast_volume"], row["forecast_cost"]) == (4, Decimal("4000.00"))
    assert (row["ordered_volume"], row["outstanding_volume"]) == (1, 3)
    assert row["outstanding_cost"] == Decimal("3000.00")
    assert row["headroom"] == Decimal("1000000.00") - Decimal("1500.00") - Decimal("3000.00")
    assert row["signal"] == "within_plan" and row["signal_label"] == "Within plan"


@freeze_time(OPEN)
def test_a_line_whose_forecast_exceeds_its_budget_is_flagged_and_so_is_its_year(
    envelope, refresh_estate
):
    small = services.budget_line_create(
        envelope=envelope, financial_year="2025/26", category="laptop", amount=Decimal("3500")
    )
    services.budget_line_create(
        envelope=envelope, financial_year="2025/26", category="desktop", amount=Decimal("100")
    )

    position = selectors.headroom()

    row = _row(position, small)
    assert row["headroom"] == Decimal("-500.00")
    assert row["over_budget"] and row["signal"] == "over_budget"
    assert row["signal_label"] == "Forecast over budget"
    year = position["years"][0]
    # The year: £3,600 budget, £4,000 still to buy.
    assert year["over_budget"] and year["signal"] == "over_budget"
    assert year["lines_over_budget"] == 1
    assert position["over_budget"] is True


@freeze_time(OPEN)
def test_forecast_over_the_plans_volume_is_flagged(laptop_line, refresh_estate):
    from refresh.models import BaselineRow, BaselineSnapshot

    plan = BaselineSnapshot.objects.create(name="Plan", as_of=dt.date(2024, 11, 1), is_plan=True)
    BaselineRow.objects.create(
        snapshot=plan,
        business_unit=refresh_estate[0].business_unit,
        category="laptop",
        financial_year=2025,
        refresh_volume=3,
    )

    row = _row(selectors.headroom(), laptop_line)

    assert (row["plan_volume"], row["forecast_volume"], row["plan_variance"]) == (3, 4, 1)
    assert row["over_plan_volume"] and row["signal"] == "over_plan_volume"


def test_a_closed_year_has_no_demand_left_and_is_marked_closed(
    make_order, commercial_officer, laptop_line
):
    approve_on(make_order("250.00"), commercial_officer, dt.date(2025, 6, 2))

    with freeze_time("2026-04-01 12:00:00"):
        position = selectors.headroom()

    row = _row(position, laptop_line)
    assert row["closed"] and row["signal"] == "closed" and row["signal_label"] == "Closed"
    assert (row["outstanding_cost"], row["forecast_cost"]) == (Decimal("0"), Decimal("0"))
    assert row["headroom"] == laptop_line.amount - Decimal("250.00")
    assert position["years"][0]["closed"] is True


@freeze_time(OPEN)
def test_tablets_are_shown_apart_and_never_reach_the_envelopes_sums(
    envelope, laptop_line, refresh_estate
):
    # Given three tablets due in 2025/26 as well as the four laptops
    tablet = DeviceModelFactory(category="tablet", name="iPad 9th generation")
    unit = refresh_estate[0].business_unit
    for _ in range(3):
        DeviceFactory(business_unit=unit, device_model=tablet, purchase_date=dt.date(2021, 9, 1))
    from refresh import services as refresh_services

    refresh_services.bau_rate_save(category="tablet", planning_unit_price=Decimal("500.00"))
    refresh_services.eligibility_recompute()

    position = selectors.headroom()

    # Then the tablets are in "unfunded", and the envelope counts only the laptops
    assert [(u["category"], u["forecast_volume"]) for u in position["unfunded"]] == [("tablet", 3)]
    assert position["unfunded"][0]["forecast_cost"] == Decimal("1500.00")
    assert {r["category"] for r in position["rows"]} == {"laptop"}
    assert position["outstanding"] == Decimal("4000.00")
    assert position["headroom"] == envelope.total - Decimal("4000.00")


def test_an_envelope_has_no_line_for_a_category_it_does_not_fund(envelope):
    assert envelope.funded_categories == ["laptop", "desktop", "monitor", "smartphone"]

    with pytest.raises(DomainError) as refused:
        services.budget_line_create(
            envelope=envelope, financial_year="2025/26", category="tablet", amount=Decimal("1")
        )

    assert refused.value.code == "category_not_funded"
    assert not envelope.budget_lines.exists()


def test_the_scope_of_an_envelope_is_data(db):
    envelope = services.capital_envelope_create(
        name="Tablets pilot",
        total=Decimal("1000"),
        decision_reference="X",
        funded_categories=["tablet"],
    )

    line = services.budget_line_create(
        envelope=envelope, financial_year="2025/26", category="tablet", amount=Decimal("1000")
    )

    assert line.category == "tablet"
    with pytest.raises(DomainError):
        services.budget_line_create(
            envelope=envelope, financial_year="2025/26", category="laptop", amount=Decimal("1")
        )


def test_a_scoped_finance_officer_sees_only_their_units_commitments(
    make_order, commercial_officer, laptop_line
):
    approve_on(make_order("777.77"), commercial_officer, dt.date(2025, 6, 2))
    scoped = UserFactory(role=Role.FINANCE, units=[BusinessUnitFactory()])

    mine = _row(selectors.headroom(user=scoped), laptop_line)
    everyone = _row(selectors.headroom(), laptop_line)

    assert mine["committed"] == Decimal("0")
    assert everyone["committed"] == Decimal("777.77")


def test_year_and_line_filters_limit_the_rows_not_the_envelope(envelope, laptop_line):
    other = services.budget_line_create(
        envelope=envelope, financial_year="2026/27", category="laptop", amount=Decimal("10")
    )

    by_year = selectors.headroom(fy="2026/27")
    by_line = selectors.headroom(line=laptop_line)

    assert [r["budget_line_id"] for r in by_year["rows"]] == [other.pk]
    assert [y["financial_year"] for y in by_year["years"]] == ["2026/27"]
    assert [r["budget_line_id"] for r in by_line["rows"]] == [laptop_line.pk]
    assert by_year["headroom"] == by_line["headroom"] == selectors.headroom()["headroom"]


@freeze_time(OPEN)
def test_what_approving_leaves_in_the_line(make_order, laptop_line, refresh_estate, raiser):
    order = make_order("2000.00", quantity=2)
    from procurement.models import PurchaseOrder

    order = PurchaseOrder.objects.prefetch_related("lines").get(pk=order.pk)

    after = selectors.headroom_after_approval(order=order, user=UserFactory(role=Role.FINANCE))

    assert after["now"]["headroom"] == Decimal("1000000.00") - Decimal("4000.00")
    # Committing £2,000 for two of the four forecast laptops: £2,000 of demand is left.
    assert after["after"]["uncommitted"] == Decimal("998000.00")
    assert after["after"]["outstanding_cost"] == Decimal("2000.00")
    assert after["after"]["headroom"] == Decimal("996000.00")
