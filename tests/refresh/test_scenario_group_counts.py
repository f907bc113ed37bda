"""The scenario comparison's kept counts (``ScenarioGroupCount``) equal a GROUP BY
over the eligibility table after every kind of write to it, and the groups read from
them (``forecast_engine.groups_today``) equal the grouped scan they replaced.

The oracle below is the previous ``groups_today``: one GROUP BY over the whole
eligibility table by unit, category, policy, purchase month (``TruncMonth``) and the
flags. It is compared with the selector over the varied estate of
``test_eligibility_counts`` (units in a tree, every category, purchase dates from
2012 to none, repairs, end of support, idle devices, statuses in and out) after full
and partial recomputes, status moves, unit moves, raw key changes and deletes, for
the whole estate and unit subtrees, by unit and not.

The triggers are SQL per vendor (migration refresh.0011_scenario_group_counts); these
tests run on SQLite and, with DATABASE_URL, on PostgreSQL, where TRUNCATE is
exercised by the ``postgres``-marked one.
"""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.db import connection
from django.db.models import Count
from django.db.models.functions import TruncMonth

from accounts.scoping import UnitScope
from devices.models import Device, DeviceEvent
from devices.services import devices_status_move
from refresh import services
from refresh.models import DeviceEligibility, RefreshPolicy, ScenarioGroupCount
from refresh.selectors.forecast_engine import _add_months, groups_today
from tests.factories import DeviceFactory
from tests.refresh import test_eligibility_counts
from tests.refresh.test_eligibility_counts import TODAY, StatementRunner, raw

pytestmark = pytest.mark.django_db

KEY = ("business_unit_id", "category", "policy_id", "purchase_month", "forced", "reclaim", "in_use")

# The migration's module name starts with a digit: imported by name, in a test only.
migration_0011 = importlib.import_module("refresh.migrations.0011_scenario_group_counts")

# The same varied estate as the eligibility counts' tests (a fixture, shared by name).
estate = test_eligibility_counts.estate


def grouped_groups(*, scope=None, by_unit: bool = True) -> list[tuple]:
    """The oracle: the grouped scan ``groups_today`` ran before the kept counts."""
    qs = DeviceEligibility.objects.within(scope)
    keys = ["category", "policy_id", "pmonth", "forced", "reclaim", "in_use"]
    if by_unit:
        keys.insert(0, "business_unit_id")
    rows = (
        qs.annotate(pmonth=TruncMonth("purchase_date"))
        .values(*keys)
        .annotate(n=Count("pk"))
        .order_by()
        .values_list(*keys, "n")
    )
    if not by_unit:
        rows = [(None, *r) for r in rows]
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


def grouped_counts() -> dict[tuple, int]:
    """What the kept counts must say: one GROUP BY over the eligibility table."""
    return {
        (unit, cat, policy, pmonth, forced, reclaim, in_use): n
        for unit, cat, policy, pmonth, forced, reclaim, in_use, n in DeviceEligibility.objects.annotate(
            pmonth=TruncMonth("purchase_date")
        )
        .values(*KEY[:3], "pmonth", *KEY[4:])
        .annotate(n=Count("pk"))
        .order_by()
        .values_list(*KEY[:3], "pmonth", *KEY[4:], "n")
    }


def kept_counts() -> dict[tuple, int]:
    """What the kept counts say, zero rows left out."""
    return {
        tuple(getattr(c, k) for k in KEY): c.devices
        for c in ScenarioGroupCount.objects.exclude(devices=0)
    }


def assert_groups_agree(estate) -> None:
    """Counts exact and never negative, and the selector equal to the oracle for the
    whole estate and each command's and one unit's subtree, by unit and not."""
    assert kept_counts() == grouped_counts()
    assert not ScenarioGroupCount.objects.filter(devices__lt=0).exists()
    for scope in [None, *(UnitScope.subtree(u) for u in estate["scopes"])]:
        for by_unit in (True, False):
            assert sorted(groups_today(scope=scope, by_unit=by_unit), key=repr) == sorted(
                grouped_groups(scope=scope, by_unit=by_unit), key=repr
            ), (scope, by_unit)


def raw_count(sql: str, params=()) -> int:
    """Run one statement; the rows it wrote."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def test_a_full_recompute_keeps_the_counts_and_the_groups_agree(estate):
    assert ScenarioGroupCount.objects.count() == 0
    services.eligibility_recompute(today=TODAY)
    keys = kept_counts()
    # The estate really is varied: every flag and a missing purchase month are keys,
    # and months are first days.
    assert {k[4] for k in keys} == {True, False}  # forced
    assert {k[5] for k in keys} == {True, False}  # reclaim
    assert {k[6] for k in keys} == {True, False}  # in use
    assert any(k[3] is None for k in keys)
    months = {k[3] for k in keys if k[3] is not None}
    assert len(months) > 40 and {m.day for m in months} == {1}
    assert sum(keys.values()) == DeviceEligibility.objects.count() > 100
    assert_groups_agree(estate)


def test_a_second_full_recompute_a_year_later_moves_the_counts_with_the_rows(estate):
    services.eligibility_recompute(today=TODAY)
    services.eligibility_recompute(today=dt.date(2026, 11, 3))
    assert_groups_agree(estate)
    services.eligibility_recompute(today=dt.date(2026, 11, 3))  # nothing changes
    assert_groups_agree(estate)


def test_partial_recomputes_after_status_moves_unit_moves_and_new_devices(estate):
    services.eligibility_recompute(today=TODAY)
    devices = estate["devices"]
    north1, south2 = estate["units"][0], estate["units"][3]
    deployed = [d for d in devices if d.status == Device.Status.DEPLOYED][:6]
    returned = [d for d in devices if d.status == Device.Status.RETURNED][:4]
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
    # Moved unit, purchase date corrected (another month), and a new device.
    Device.objects.filter(pk__in=[d.pk for d in deployed[3:]]).update(business_unit=south2)
    Device.objects.filter(pk=devices[0].pk).update(purchase_date=dt.date(2024, 2, 29))
    new = DeviceFactory(
        business_unit=north1, purchase_date=None, device_model=devices[1].device_model
    )
    changed = [d.pk for d in deployed + returned] + [devices[0].pk, new.pk]
    services.eligibility_recompute(today=TODAY, device_ids=changed)
    assert_groups_agree(estate)
    assert DeviceEligibility.objects.get(pk=devices[0].pk).purchase_date == dt.date(2024, 2, 29)


def test_deletes_of_devices_and_of_eligibility_rows_subtract(estate):
    services.eligibility_recompute(today=TODAY)
    devices = estate["devices"]
    without_events = [
        d.pk
        for d in devices
        if not DeviceEvent.objects.filter(device=d).exists()
        and DeviceEligibility.objects.filter(pk=d.pk).exists()
    ][:5]
    Device.objects.filter(pk__in=without_events).delete()
    assert_groups_agree(estate)
    DeviceEligibility.objects.filter(business_unit=estate["units"][1]).delete()
    raw("DELETE FROM refresh_deviceeligibility WHERE category = %s", ["monitor"])
    assert_groups_agree(estate)
    assert not any(k[1] == "monitor" for k in kept_counts())


def test_raw_updates_move_a_key_and_leave_the_counts_alone_otherwise(estate):
    services.eligibility_recompute(today=TODAY)
    before = {c.pk: c.devices for c in ScenarioGroupCount.objects.all()}
    raw("UPDATE refresh_deviceeligibility SET priority = priority + 1, due_date = NULL")
    assert {c.pk: c.devices for c in ScenarioGroupCount.objects.all()} == before
    # A purchase date moved within its month moves no key either.
    raw(
        "UPDATE refresh_deviceeligibility SET purchase_date = %s WHERE purchase_date = %s",
        [dt.date(2020, 3, 1), dt.date(2020, 3, 1)],
    )
    pks = list(
        DeviceEligibility.objects.filter(purchase_date__day__gt=1).values_list("pk", flat=True)[:20]
    )
    for pk in pks:  # to the first of the same month, row by row
        row = DeviceEligibility.objects.get(pk=pk)
        raw(
            "UPDATE refresh_deviceeligibility SET purchase_date = %s WHERE device_id = %s",
            [row.purchase_date.replace(day=1), pk],
        )
    assert {c.pk: c.devices for c in ScenarioGroupCount.objects.all()} == before
    # Only the purchase date set, to another month and from none: the month moves.
    moved = raw_count(
        "UPDATE refresh_deviceeligibility SET purchase_date = %s "
        "WHERE purchase_date < %s OR purchase_date IS NULL",
        [dt.date(2015, 6, 10), dt.date(2014, 1, 1)],
    )
    assert moved > 5
    assert_groups_agree(estate)
    # Several rows changing keys in one statement, some swapping with each other.
    raw(
        "UPDATE refresh_deviceeligibility SET in_use = NOT in_use, forced = NOT forced, "
        "purchase_date = CASE WHEN purchase_date IS NULL THEN %s "
        "WHEN purchase_date > %s THEN NULL ELSE purchase_date END "
        "WHERE category IN ('laptop', 'smartphone')",
        [dt.date(2031, 7, 19), dt.date(2020, 1, 1)],
    )
    assert_groups_agree(estate)
    raw("UPDATE refresh_deviceeligibility SET business_unit_id = %s", [estate["units"][0].pk])
    assert_groups_agree(estate)
    assert {k[0] for k in kept_counts()} == {estate["units"][0].pk}


def test_the_migration_backfill_rebuilds_the_counts_from_the_eligibility_rows(estate):
    services.eligibility_recompute(today=TODAY)
    raw("DELETE FROM refresh_scenariogroupcount")
    assert kept_counts() == {}
    migration_0011.create_counts(None, StatementRunner())
    assert_groups_agree(estate)
    # And the triggers it re-created are in place exactly once (no double counting).
    services.eligibility_recompute(today=dt.date(2027, 4, 2))
    assert_groups_agree(estate)


def test_scoped_groups_hold_only_the_units_in_scope(estate):
    services.eligibility_recompute(today=TODAY)
    north = estate["scopes"][0]
    north_units = {u.pk for u in estate["units"][:2]}
    scoped = groups_today(scope=UnitScope.subtree(north))
    assert scoped and {g[0] for g in scoped} <= north_units
    whole = groups_today()
    assert sum(g[-1] for g in scoped) == sum(g[-1] for g in whole if g[0] in north_units)
    assert sum(g[-1] for g in groups_today(scope=UnitScope.subtree(north), by_unit=False)) == sum(
        g[-1] for g in scoped
    )


def test_the_groups_read_the_counts_not_the_eligibility_table(estate, django_assert_num_queries):
    services.eligibility_recompute(today=TODAY)
    # Two queries: the scope's count rows and the policies' lifecycles.
    with django_assert_num_queries(2) as captured:
        groups_today(scope=UnitScope.subtree(estate["scopes"][1]))
    sqls = [q["sql"] for q in captured.captured_queries]
    assert any("refresh_scenariogroupcount" in sql for sql in sqls)
    assert not any("refresh_deviceeligibility" in sql for sql in sqls)


@pytest.mark.postgres
def test_truncate_of_the_eligibility_table_empties_the_counts(estate):
    services.eligibility_recompute(today=TODAY)
    assert ScenarioGroupCount.objects.exists()
    raw("SET CONSTRAINTS ALL IMMEDIATE")
    raw("TRUNCATE refresh_deviceeligibility")
    assert ScenarioGroupCount.objects.count() == 0
    services.eligibility_recompute(today=TODAY)
    assert_groups_agree(estate)
