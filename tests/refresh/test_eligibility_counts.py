"""The forecast's kept counts (``EligibilityCount``) equal a GROUP BY over the
eligibility table after every kind of write to it, and the forecast read from them
(``forecast_engine.unit_year_groups``) equals the grouped scan it replaced.

The oracle below is the previous ``unit_year_groups``: one GROUP BY over the whole
eligibility table with the financial year computed in the database. It is kept here,
in the test, so the table-based selector is compared with it over a varied estate
(units in a tree, every category, purchase dates from 2012 to none, repairs, OS and
model end of support, idle devices, every eligible status and some that are not)
after full and partial recomputes, status moves, unit moves and deletes, for several
"current" years and for the whole estate and unit subtrees.

The triggers are SQL per vendor (migration refresh.0009); these tests run on SQLite
and, with DATABASE_URL, on PostgreSQL, where TRUNCATE is exercised by the
``postgres``-marked one.
"""

from __future__ import annotations

import datetime as dt
import importlib
import random
from collections import defaultdict

import pytest
from django.db import connection
from django.db.models import Case, Count, F, IntegerField, Value, When
from django.db.models.functions import Greatest
from freezegun import freeze_time

from accounts.models import BusinessUnit
from accounts.scoping import UnitScope
from core.financial_year import FinancialYear
from devices.models import Category, Device, DeviceEvent
from devices.services import devices_status_move
from refresh import selectors, services
from refresh.models import DeviceEligibility, EligibilityCount, OsEndOfSupport
from refresh.selectors.forecast_engine import unit_year_groups
from tests.factories import (
    BusinessUnitFactory,
    DeviceEventFactory,
    DeviceFactory,
    DeviceModelFactory,
    PersonFactory,
)

pytestmark = pytest.mark.django_db

TODAY = dt.date(2025, 6, 15)
KEY = ("business_unit_id", "category", "due_financial_year", "reclaim", "forced", "in_use")

# The migration's module name starts with a digit: imported by name, in a test only.
migration_0009 = importlib.import_module("refresh.migrations.0009_forecast_counts")


def grouped_forecast(*, current: FinancialYear, scope=None):
    """The oracle: the grouped scan ``unit_year_groups`` ran before the kept counts."""
    qs = DeviceEligibility.objects.within(scope)
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


def grouped_counts() -> dict[tuple, int]:
    """What the kept counts must say: one GROUP BY over the eligibility table."""
    return {
        tuple(row[k] for k in KEY): row["n"]
        for row in DeviceEligibility.objects.values(*KEY).annotate(n=Count("pk")).order_by()
    }


def kept_counts() -> dict[tuple, int]:
    """What the kept counts say, zero rows left out."""
    return {
        tuple(getattr(c, k) for k in KEY): c.devices
        for c in EligibilityCount.objects.exclude(devices=0)
    }


def assert_forecast_agrees(estate) -> None:
    """Counts exact, and the selector equal to the oracle for several current years,
    for the whole estate and for each command's and one unit's subtree."""
    assert kept_counts() == grouped_counts()
    assert EligibilityCount.objects.filter(devices__lt=0).count() == 0
    scopes = [None, *(UnitScope.subtree(u) for u in estate["scopes"])]
    for year in (2019, 2024, 2025, 2027, 2033):
        current = FinancialYear(year)
        for scope in scopes:
            refresh, in_use = unit_year_groups(current=current, scope=scope)
            expected_refresh, expected_in_use = grouped_forecast(current=current, scope=scope)
            assert dict(refresh) == dict(expected_refresh), (year, scope)
            assert dict(in_use) == dict(expected_in_use), (year, scope)


class StatementRunner:
    """What the migration's function uses of a schema editor (SQLite's cannot open
    inside a test's transaction)."""

    connection = connection

    def execute(self, sql: str) -> None:
        raw(sql)


def raw(sql: str, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.fixture
def estate(policies):
    """A directorate with two commands of two units each; 160 devices drawn with a fixed
    seed across every category, purchase dates from 2012 to none, statuses in and
    out of eligibility, repairs, OS and model end of support and idle devices."""
    rng = random.Random(14)
    force = BusinessUnitFactory(code="F", level=BusinessUnit.Level.DIRECTORATE)
    north = BusinessUnitFactory(code="N", parent=force, level=BusinessUnit.Level.COMMAND)
    south = BusinessUnitFactory(code="S", parent=force, level=BusinessUnit.Level.COMMAND)
    units = [
        BusinessUnitFactory(code="N1", parent=north),
        BusinessUnitFactory(code="N2", parent=north),
        BusinessUnitFactory(code="S1", parent=south),
        BusinessUnitFactory(code="S2", parent=south),
    ]
    models = [
        DeviceModelFactory(name="Latitude 5440"),
        DeviceModelFactory(name="Latitude 7290", end_of_support=dt.date(2024, 1, 31)),
        DeviceModelFactory(name="OptiPlex 7010", category=Category.DESKTOP),
        DeviceModelFactory(name="P2422H", category=Category.MONITOR),
        DeviceModelFactory(name="Galaxy A54", category=Category.SMARTPHONE),
        DeviceModelFactory(name="iPad 9", category=Category.TABLET),
    ]
    OsEndOfSupport.objects.create(os_prefix="Windows 10", end_of_support=dt.date(2025, 10, 14))
    statuses = [
        Device.Status.DEPLOYED,
        Device.Status.DEPLOYED,
        Device.Status.IN_REPAIR,
        Device.Status.IN_STOCK,
        Device.Status.RETURNED,
    ]
    devices = []
    for _ in range(160):
        unit = rng.choice(units)
        status = rng.choice(statuses)
        in_use = status in (Device.Status.DEPLOYED, Device.Status.IN_REPAIR)
        bought = (
            None
            if rng.random() < 0.06
            else dt.date(2012, 1, 1) + dt.timedelta(days=rng.randrange(0, 13 * 365))
        )
        idle = status == Device.Status.DEPLOYED and rng.random() < 0.15
        devices.append(
            DeviceFactory(
                business_unit=unit,
                device_model=rng.choice(models),
                status=status,
                assigned_to=PersonFactory(business_unit=unit) if in_use else None,
                purchase_date=bought,
                os_version=rng.choice(["", "Windows 11 23H2", "Windows 10 22H2"]),
                last_seen=dt.datetime(2024, 12, 1, tzinfo=dt.UTC)
                if idle
                else dt.datetime(2025, 6, 10, tzinfo=dt.UTC),
            )
        )
    for device in rng.sample(devices, 25):
        for _ in range(rng.choice([1, 3])):
            DeviceEventFactory(device=device, kind=DeviceEvent.Kind.REPAIRED)
    return {"units": units, "scopes": [north, south, units[2]], "devices": devices}


def test_a_full_recompute_keeps_the_counts_and_the_forecast_agrees(estate):
    assert EligibilityCount.objects.count() == 0
    services.eligibility_recompute(today=TODAY)
    keys = kept_counts()
    # The estate really is varied: every flag and a missing due year are keys.
    assert {k[3] for k in keys} == {True, False}  # reclaim
    assert {k[4] for k in keys} == {True, False}  # forced
    assert {k[5] for k in keys} == {True, False}  # in use
    assert any(k[2] is None for k in keys)
    assert len({k[2] for k in keys}) > 8
    assert sum(keys.values()) == DeviceEligibility.objects.count() > 100
    assert_forecast_agrees(estate)


def test_a_second_full_recompute_a_year_later_moves_the_counts_with_the_rows(estate):
    services.eligibility_recompute(today=TODAY)
    services.eligibility_recompute(today=dt.date(2026, 11, 3))  # more devices now overdue
    assert_forecast_agrees(estate)
    services.eligibility_recompute(today=dt.date(2026, 11, 3))  # nothing changes: no-op
    assert_forecast_agrees(estate)


def test_partial_recomputes_after_status_moves_unit_moves_and_new_devices(estate):
    services.eligibility_recompute(today=TODAY)
    devices = estate["devices"]
    north1, south2 = estate["units"][0], estate["units"][3]
    deployed = [d for d in devices if d.status == Device.Status.DEPLOYED][:6]
    returned = [d for d in devices if d.status == Device.Status.RETURNED][:4]
    # Through the one status mover: out of use (their rows go) and back into stock.
    devices_status_move(
        moves=[(d.pk, d.status) for d in deployed[:3]],
        to_status=Device.Status.RETURNED,
        kind=DeviceEvent.Kind.RETURNED,
        actor=None,
        source="test",
    )
    devices_status_move(
        moves=[(d.pk, d.status) for d in returned],
        to_status=Device.Status.IN_STOCK,
        kind=DeviceEvent.Kind.NOTE,
        actor=None,
        source="test",
    )
    # Moved unit, bought date corrected (a new due year), and a new device.
    Device.objects.filter(pk__in=[d.pk for d in deployed[3:]]).update(business_unit=south2)
    Device.objects.filter(pk=devices[0].pk).update(purchase_date=dt.date(2024, 2, 29))
    new = DeviceFactory(
        business_unit=north1, purchase_date=None, device_model=devices[1].device_model
    )
    changed = [d.pk for d in deployed + returned] + [devices[0].pk, new.pk]
    services.eligibility_recompute(today=TODAY, device_ids=changed)
    assert_forecast_agrees(estate)
    assert not DeviceEligibility.objects.filter(pk__in=[d.pk for d in deployed[:3]]).exists()
    assert DeviceEligibility.objects.filter(pk__in=[d.pk for d in returned]).count() == 4


def test_deletes_of_devices_and_of_eligibility_rows_subtract(estate):
    services.eligibility_recompute(today=TODAY)
    devices = estate["devices"]
    without_events = [
        d.pk
        for d in devices
        if not DeviceEvent.objects.filter(device=d).exists()
        and DeviceEligibility.objects.filter(pk=d.pk).exists()
    ][:5]
    # A device deleted takes its eligibility row with it (Django's cascade, one DELETE).
    Device.objects.filter(pk__in=without_events).delete()
    assert_forecast_agrees(estate)
    # Rows deleted directly, by the ORM and by raw SQL.
    DeviceEligibility.objects.filter(business_unit=estate["units"][1]).delete()
    raw("DELETE FROM refresh_deviceeligibility WHERE category = %s", ["monitor"])
    assert_forecast_agrees(estate)
    assert not any(k[1] == "monitor" for k in kept_counts())


def test_raw_updates_move_a_key_and_leave_the_counts_alone_otherwise(estate):
    services.eligibility_recompute(today=TODAY)
    before = {c.pk: c.devices for c in EligibilityCount.objects.all()}
    raw("UPDATE refresh_deviceeligibility SET priority = priority + 1, repair_count = 0")
    assert {c.pk: c.devices for c in EligibilityCount.objects.all()} == before
    # Several rows changing keys in one statement, some swapping with each other.
    raw(
        "UPDATE refresh_deviceeligibility SET in_use = NOT in_use, "
        "due_financial_year = CASE WHEN due_financial_year IS NULL THEN 2031 "
        "WHEN due_financial_year > 2020 THEN NULL ELSE due_financial_year END "
        "WHERE category IN ('laptop', 'smartphone')"
    )
    assert_forecast_agrees(estate)
    raw("UPDATE refresh_deviceeligibility SET business_unit_id = %s", [estate["units"][0].pk])
    assert_forecast_agrees(estate)
    assert {k[0] for k in kept_counts()} == {estate["units"][0].pk}


def test_the_migration_backfill_rebuilds_the_counts_from_the_eligibility_rows(estate):
    services.eligibility_recompute(today=TODAY)
    raw("DELETE FROM refresh_eligibilitycount")
    assert kept_counts() == {}
    migration_0009.create_counts(None, StatementRunner())
    assert_forecast_agrees(estate)
    # And the triggers it re-created are in place exactly once (no double counting).
    services.eligibility_recompute(today=dt.date(2027, 4, 2))
    assert_forecast_agrees(estate)


@freeze_time("2025-06-15 12:00:00")
def test_a_scoped_forecast_sums_only_the_units_in_scope(estate):
    services.eligibility_recompute(today=TODAY)
    north = estate["scopes"][0]
    current = FinancialYear(2025)
    refresh, in_use = unit_year_groups(current=current, scope=UnitScope.subtree(north))
    north_units = {u.pk for u in estate["units"][:2]}
    assert refresh and {unit for unit, _c, _y in refresh} <= north_units
    assert {unit for unit, _c in in_use} <= north_units
    whole, _ = unit_year_groups(current=current)
    assert sum(refresh.values()) < sum(whole.values())
    assert sum(refresh.values()) == sum(
        n for (unit, _c, _y), n in whole.items() if unit in north_units
    )
    # The forecast's totals (what procurement's headroom reads) follow the scope too.
    scoped = selectors.forecast_totals(financial_years=[current], scope=UnitScope.subtree(north))
    assert sum(r["refresh_volume"] for r in scoped) == sum(
        n for (_u, _c, year), n in refresh.items() if year == 2025
    )


def test_the_forecast_reads_the_counts_not_the_eligibility_table(estate, django_assert_num_queries):
    services.eligibility_recompute(today=TODAY)
    # One query: the scope's count rows (no scan of refresh_deviceeligibility).
    with django_assert_num_queries(1) as captured:
        unit_year_groups(current=FinancialYear(2025), scope=UnitScope.subtree(estate["scopes"][1]))
    sql = captured.captured_queries[0]["sql"]
    assert "refresh_eligibilitycount" in sql
    assert "refresh_deviceeligibility" not in sql


@pytest.mark.postgres
def test_truncate_of_the_eligibility_table_empties_the_counts(estate):
    services.eligibility_recompute(today=TODAY)
    assert EligibilityCount.objects.exists()
    raw("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred checks pending on the table
    raw("TRUNCATE refresh_deviceeligibility")
    assert EligibilityCount.objects.count() == 0
    services.eligibility_recompute(today=TODAY)
    assert_forecast_agrees(estate)
