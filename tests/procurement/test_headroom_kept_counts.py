"""Headroom's forecast, now read from the counts the database keeps (refresh's
``EligibilityCount`` and ``PersonCount``), still honours the caller's scope: a finance
officer scoped to one unit sees that unit's refresh and BAU demand only, and the BAU
new starters are shared by the whole organisation's headcount on the day."""

import datetime as dt
from decimal import Decimal

import pytest
from freezegun import freeze_time

from accounts.roles import Role
from procurement import selectors
from refresh import services as refresh_services
from tests.factories import BusinessUnitFactory, DeviceFactory, PersonFactory, UserFactory

pytestmark = pytest.mark.django_db

OPEN = "2025-06-15 12:00:00"


def _row(position, line):
    return next(r for r in position["rows"] if r["budget_line_id"] == line.pk)


@freeze_time(OPEN)
def test_a_scoped_finance_officer_sees_only_their_units_forecast(laptop_line, refresh_estate):
    # Given the four laptops of unit RF due in 2025/26, and in another unit three
    # laptops due then and two due later
    home = refresh_estate[0].business_unit
    other = BusinessUnitFactory(code="OT")
    for bought in [dt.date(2021, 9, 1)] * 3 + [dt.date(2023, 9, 1)] * 2:
        DeviceFactory(business_unit=other, purchase_date=bought)
    # and 40 laptop starters a year shared by headcount on the day: RF has three people
    # in and one not started yet; the other unit one in and one gone (four in all)
    for start, leaves in [(dt.date(2020, 1, 6), None)] * 3 + [(dt.date(2025, 9, 1), None)]:
        PersonFactory(business_unit=home, start_date=start, leaver_date=leaves)
    PersonFactory(business_unit=other, start_date=dt.date(2020, 1, 6))
    PersonFactory(
        business_unit=other, start_date=dt.date(2020, 1, 6), leaver_date=dt.date(2025, 1, 31)
    )
    refresh_services.bau_rate_save(category="laptop", new_starters_per_year=40)
    refresh_services.eligibility_recompute()
    scoped = UserFactory(role=Role.FINANCE, units=[home])

    # When each reads the laptop line's headroom
    mine = _row(selectors.headroom(user=scoped), laptop_line)
    everyone = _row(selectors.headroom(user=UserFactory(role=Role.FINANCE)), laptop_line)

    # Then the scoped officer's forecast is RF's: 4 due + 40 x 3/4 starters
    assert mine["forecast_volume"] == 4 + 30
    assert mine["forecast_cost"] == Decimal("34000.00")
    # and the whole organisation's is both units': 7 due + 40 starters
    assert everyone["forecast_volume"] == 7 + 40
    assert everyone["headroom"] == Decimal("1000000.00") - Decimal("47000.00")
