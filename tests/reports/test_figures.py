"""Each stewardship section's figures, exact, against the hand-built estate in conftest."""

import datetime as dt

import pytest
from django.db import connection
from freezegun import freeze_time

from devices.models import Category, Device
from reports import selectors
from tests.factories import (
    BusinessUnitFactory,
    DeviceFactory,
    DeviceModelFactory,
    PersonFactory,
)
from tests.reports.conftest import PERIOD_END, PERIOD_START, RECORDED

L, P, DT, M = Category.LAPTOP, Category.SMARTPHONE, Category.DESKTOP, Category.MONITOR
D = Device.Status


@pytest.fixture
def figures(estate):
    return selectors.stewardship_figures(
        period_start=PERIOD_START, period_end=PERIOD_END, idle_days=90
    )


def test_devices_by_category_and_status_include_sub_units_and_leave_out_disposed(figures, estate):
    a = figures[estate.a.pk]["by_category_status"]
    assert a[L][D.DEPLOYED] == 5 and a[L][D.IN_STOCK] == 2 and a[L][D.LOST_STOLEN] == 1
    assert a[P][D.DEPLOYED] == 3 and a[P][D.LOST_STOLEN] == 1
    assert a[DT][D.DEPLOYED] == 1
    assert a[M][D.DEPLOYED] == 3 and a[M][D.IN_STOCK] == 1
    assert D.DISPOSED not in a[L]
    assert figures[estate.a.pk]["headline"]["devices_held"] == 17
    a1 = figures[estate.a1.pk]["by_category_status"]
    assert a1[M][D.DEPLOYED] == 3 and a1[L][D.DEPLOYED] == 0
    assert figures[estate.b.pk]["headline"]["devices_held"] == 6


def test_in_use_against_entitlement_counts_current_people_only(figures, estate):
    a = figures[estate.a.pk]["entitlement"]
    # A's current people: pA1, pA2, the future leaver (response) and A1's desk and response people.
    assert a[L] == {"in_use": 5, "entitled": 4, "excess": 1}
    assert a[P] == {"in_use": 3, "entitled": 4, "excess": 0}
    assert a[DT] == {"in_use": 1, "entitled": 1, "excess": 0}
    assert a[M] == {"in_use": 3, "entitled": 2, "excess": 1}
    assert figures[estate.b.pk]["entitlement"][L] == {"in_use": 1, "entitled": 1, "excess": 0}


def test_people_over_entitlement_named_by_staff_number_and_exceptions_allowed_for(figures, estate):
    over = {
        (p["staff_number"], p["category"]): (p["held"], p["allowed"])
        for p in figures[estate.a.pk]["people_over"]
    }
    assert over == {("PA1", L): (2, 1), ("PSUB", M): (3, 2)}
    assert [p["staff_number"] for p in figures[estate.a1.pk]["people_over"]] == ["PSUB"]
    assert figures[estate.b.pk]["people_over"] == []
    assert figures[estate.a.pk]["headline"]["people_over_entitlement"] == 2
    assert figures[estate.a.pk]["headline"]["devices_over_entitlement"] == 2


def test_unassigned_stock_held_by_the_unit(figures, estate):
    assert figures[estate.a.pk]["stock"] == {L: 2, DT: 0, M: 1, P: 0, Category.TABLET: 0}
    assert figures[estate.a1.pk]["stock"][M] == 1
    assert figures[estate.b.pk]["headline"]["in_stock"] == 3


def test_idle_devices_are_deployed_and_not_seen_for_the_configured_days(figures, estate):
    a = figures[estate.a.pk]["idle"]
    assert a[L] == {"idle": 1, "never_seen": 0}
    assert a[DT] == {"idle": 1, "never_seen": 0}
    assert a[P] == {"idle": 0, "never_seen": 1}
    assert figures[estate.b.pk]["idle"][L]["idle"] == 1


def test_idle_threshold_is_configurable(estate):
    # Given a 150-day threshold, only the laptop last seen 200 days before the end is idle in A.
    figures = selectors.stewardship_figures(
        period_start=PERIOD_START, period_end=PERIOD_END, idle_days=150
    )
    assert figures[estate.a.pk]["headline"]["idle"] == 1
    assert figures[estate.b.pk]["headline"]["idle"] == 0


def test_leavers_still_holding_devices_by_the_end_of_the_period(figures, estate):
    assert figures[estate.a.pk]["leavers"] == [
        {"staff_number": "LEAVER", "unit": "A", "leaver_date": "2026-10-15", "devices": 1}
    ]
    assert figures[estate.a1.pk]["leavers"] == []


def test_lost_and_stolen_counts_only_the_period_in_london_time_once_per_device(figures, estate):
    assert figures[estate.a.pk]["lost"][P] == 1  # from sub-unit A1
    assert figures[estate.a.pk]["lost"][L] == 0  # lost in June 2025, outside
    assert figures[estate.a1.pk]["headline"]["lost_in_period"] == 1
    # B: lost twice in October (once counted); 00:30 on 1 Nov London is outside.
    assert figures[estate.b.pk]["headline"]["lost_in_period"] == 1


@pytest.fixture
def due_for_refresh(estate):
    """Refresh's real policies and eligibility, as at 1 November 2026: a ten-year
    lifecycle leaves the estate's 2021 devices alone; two 2016 laptops in A1 are
    overdue (due this year, 2026/27) and a January 2018 monitor in B falls due in
    2027/28."""
    from refresh import services as refresh_services

    for category in Category:
        refresh_services.refresh_policy_create(
            category=category,
            effective_from=dt.date(2015, 1, 1),
            lifecycle_months=120,
            repair_threshold=99,
            idle_days=90,
            os_end_of_support_forces_refresh=False,
        )
    for _ in range(2):
        DeviceFactory(business_unit=estate.a1, purchase_date=dt.date(2016, 1, 1))
    monitor = DeviceModelFactory(name="U2412M", category=M)
    DeviceFactory(business_unit=estate.b, device_model=monitor, purchase_date=dt.date(2018, 1, 1))
    refresh_services.eligibility_recompute(today=dt.date(2026, 11, 1))


@freeze_time("2026-11-01 12:00:00")
def test_refresh_figures_come_from_refresh_and_roll_up_to_every_ancestor(estate, due_for_refresh):
    figures = selectors.stewardship_figures(
        period_start=PERIOD_START, period_end=PERIOD_END, idle_days=90
    )
    a, a1, b = figures[estate.a.pk], figures[estate.a1.pk], figures[estate.b.pk]
    assert a["refresh"]["years"] == ["2026/27", "2027/28"]
    assert a1["refresh"]["by_year"]["2026/27"][L] == 2
    assert a["refresh"]["by_year"]["2026/27"][L] == 2
    assert (a["headline"]["refresh_due_this_year"], a["headline"]["refresh_due_next_year"]) == (
        2,
        0,
    )
    assert b["refresh"]["by_year"]["2027/28"][M] == 1
    assert b["headline"]["refresh_due_next_year"] == 1


def test_with_nothing_due_the_refresh_section_counts_zero(figures, estate):
    refresh = figures[estate.a.pk]["refresh"]
    assert refresh["years"] == ["2026/27", "2027/28"]
    assert figures[estate.a.pk]["headline"]["refresh_due_this_year"] == 0


def test_one_unit_figures_match_the_all_units_figures(figures, estate):
    one = selectors.stewardship_unit_figures(
        unit=estate.a, period_start=PERIOD_START, period_end=PERIOD_END, idle_days=90
    )
    assert one["headline"] == figures[estate.a.pk]["headline"]
    assert one["people_over"] == figures[estate.a.pk]["people_over"]


def test_device_rows_cover_the_subtree_and_flag_idle_and_leavers(estate):
    rows = list(
        selectors.stewardship_device_rows(unit=estate.a, period_end=PERIOD_END, idle_days=90)
    )
    assert len(rows) == 17
    assert {r[6] for r in rows} == {"A", "A1"}
    by_staff = {}
    for row in rows:
        by_staff.setdefault(row[7], []).append(row)
    assert by_staff["LEAVER"][0][14] == "Yes" and by_staff["LEAVER"][0][15] == "Yes"
    assert by_staff["FUTURE"][0][15] == "No"
    assert [r[4] for r in by_staff["PSUB"] if r[14] == "Yes"] == ["Desktop"]
    assert sum(1 for r in rows if r[14] == "Yes") == 2


def test_trend_compares_headline_figures_with_the_previous_run():
    previous = {
        "period_start": PERIOD_START,
        "summary": {"headline": {"devices_held": 10, "idle": 4}},
    }
    rows = {
        r["key"]: r
        for r in selectors.trend(current={"devices_held": 17, "idle": 2}, previous=previous)
    }
    assert rows["devices_held"]["change"] == 7
    assert rows["idle"]["change"] == -2
    first = {r["key"]: r for r in selectors.trend(current={"devices_held": 17}, previous=None)}
    assert first["devices_held"]["previous"] is None and first["devices_held"]["change"] is None


def _grow(estate, units: int, devices: int):
    with freeze_time(RECORDED):
        _add_units(estate, units, devices)


def _add_units(estate, units: int, devices: int):
    for i in range(units):
        unit = BusinessUnitFactory(code=f"X{i}", parent=estate.a)
        person = PersonFactory(business_unit=unit, role_profile=estate.response)
        for _ in range(devices):
            DeviceFactory(
                business_unit=unit,
                device_model=estate.models[Category.LAPTOP],
                status=D.DEPLOYED,
                assigned_to=person,
            )


def test_summary_selector_query_count_does_not_grow_with_units_or_devices(
    estate, due_for_refresh, django_assert_num_queries
):
    # Queries: the savepoint and its release; units; what changed since the period's
    # end, the changed devices and the changed people read into three temporary tables
    # (a drop and a create each; on PostgreSQL an ANALYZE each and a read of the
    # devices' and people's ids, and the cost of an index read); lost in the period; the
    # entitlement exceptions awaiting review; device counts (category x status x idle);
    # the entitlement table; people by unit and role; devices held by person (over
    # entitlement and leavers); the refresh policies in force, the devices due, the
    # device models and the OS end-of-support dates. On PostgreSQL also the statements
    # setting work_mem/jit and the plans for whole-estate scans.
    expected = 19 + 8 * (connection.vendor == "postgresql")
    with django_assert_num_queries(expected):
        small = selectors.stewardship_figures(period_start=PERIOD_START, period_end=PERIOD_END)
    _grow(estate, units=5, devices=4)
    with django_assert_num_queries(expected):
        large = selectors.stewardship_figures(period_start=PERIOD_START, period_end=PERIOD_END)
    assert len(large) == len(small) + 5
    assert large[estate.a.pk]["headline"]["in_use"] == small[estate.a.pk]["headline"]["in_use"] + 20


def test_device_rows_query_count_does_not_grow_with_devices(estate, django_assert_num_queries):
    # Queries: the savepoint and its release; the subtree's unit ids; what changed
    # since the period's end, the changed devices and people read into three temporary
    # tables (a drop and a create each; on PostgreSQL also an ANALYZE each, a read of
    # the devices' and people's ids, the cost of an index read and the plans for
    # whole-estate scans); the rows, streamed.
    expected = 10 + 7 * (connection.vendor == "postgresql")

    def rows():
        return list(
            selectors.stewardship_device_rows(unit=estate.a, period_end=PERIOD_END, idle_days=90)
        )

    with django_assert_num_queries(expected):
        small = rows()
    _grow(estate, units=3, devices=5)
    with django_assert_num_queries(expected):
        large = rows()
    assert len(large) == len(small) + 15
