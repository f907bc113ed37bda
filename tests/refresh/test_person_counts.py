"""The forecast's headcount read from the kept people counts (``PersonCount``) equals
the grouped count of people it replaced, on any day, for any scope.

The oracle is the previous ``forecast_engine.headcount``: two counts over every
person in the table, kept here in the test. The people are varied: units in a tree,
start dates past, today and future, leaving dates past, today, tomorrow and none.
Compared after creates, moves between units, date changes, deletes and raw SQL.
"""

from __future__ import annotations

import datetime as dt
import importlib
import random

import pytest
from django.db import connection
from django.db.models import Count, Q

from accounts.models import BusinessUnit
from accounts.scoping import UnitScope
from devices.models import Person
from refresh.models import PersonCount
from refresh.selectors.forecast_engine import headcount
from tests.factories import BusinessUnitFactory, PersonFactory

pytestmark = pytest.mark.django_db

DAY = dt.date(2025, 6, 15)
migration_0009 = importlib.import_module("refresh.migrations.0009_forecast_counts")


def counted_headcount(*, day: dt.date, scope=None, by_unit: bool = True):
    """The oracle: the counts over every person that ``headcount`` ran before."""
    people = Person.objects.filter(start_date__lte=day).filter(
        Q(leaver_date__isnull=True) | Q(leaver_date__gt=day)
    )
    total_people = people.count()
    if not by_unit:
        unscoped = scope is None or getattr(scope, "unrestricted", False)
        in_scope = total_people if unscoped else people.within(scope).count()
        return {None: in_scope}, total_people
    people = people.within(scope)
    heads = dict(
        people.values("business_unit_id")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("business_unit_id", "n")
    )
    return heads, total_people


def kept() -> dict[int, int]:
    return {c.business_unit_id: c.people for c in PersonCount.objects.exclude(people=0)}


def grouped() -> dict[int, int]:
    return dict(
        Person.objects.values("business_unit_id")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("business_unit_id", "n")
    )


def assert_headcount_agrees(units) -> None:
    assert kept() == grouped()
    scopes = [
        None,
        UnitScope(unrestricted=True),
        UnitScope(unrestricted=False),  # a viewer with no units: nobody, total intact
        *(UnitScope.subtree(u) for u in units["scopes"]),
    ]
    for day in (dt.date(2019, 12, 31), DAY, DAY + dt.timedelta(days=1), dt.date(2030, 1, 1)):
        for scope in scopes:
            for by_unit in (True, False):
                expected = counted_headcount(day=day, scope=scope, by_unit=by_unit)
                assert headcount(day=day, scope=scope, by_unit=by_unit) == expected, (
                    day,
                    scope,
                    by_unit,
                )


@pytest.fixture
def units(db):
    top = BusinessUnitFactory(code="D", level=BusinessUnit.Level.DIRECTORATE)
    north = BusinessUnitFactory(code="N", parent=top, level=BusinessUnit.Level.COMMAND)
    south = BusinessUnitFactory(code="S", parent=top, level=BusinessUnit.Level.COMMAND)
    leaves = [
        BusinessUnitFactory(code="N1", parent=north),
        BusinessUnitFactory(code="N2", parent=north),
        BusinessUnitFactory(code="S1", parent=south),
        # A unit whose only person has not started yet on the days compared.
        BusinessUnitFactory(code="S2", parent=south),
    ]
    return {"leaves": leaves, "scopes": [north, south, leaves[0], leaves[3]]}


@pytest.fixture
def people(units):
    rng = random.Random(16)
    starts = [dt.date(2010, 3, 1), dt.date(2019, 12, 31), DAY, DAY + dt.timedelta(days=1)]
    made = []
    for _ in range(90):
        start = rng.choice(starts)
        leaves = rng.choice(
            [None, None, start, start + dt.timedelta(days=1), DAY, dt.date(2027, 1, 1)]
        )
        if leaves is not None and leaves < start:
            leaves = start
        made.append(
            PersonFactory(
                business_unit=rng.choice(units["leaves"][:3]), start_date=start, leaver_date=leaves
            )
        )
    made.append(PersonFactory(business_unit=units["leaves"][3], start_date=dt.date(2031, 1, 1)))
    return made


def test_the_headcount_from_the_kept_counts_equals_counting_every_person(units, people):
    assert sum(kept().values()) == len(people)
    assert_headcount_agrees(units)
    heads, total = headcount(day=DAY)
    assert 0 < sum(heads.values()) == total < len(people)  # some are outside the day
    assert units["leaves"][3].pk not in heads


def test_moves_date_changes_and_deletes_keep_the_counts(units, people):
    first, second = units["leaves"][0], units["leaves"][2]
    # One at a time through the ORM, and many in one statement.
    moved = people[0]
    moved.business_unit = second
    moved.save()
    Person.objects.filter(business_unit=first, leaver_date__isnull=True).update(
        business_unit=second
    )
    Person.objects.filter(pk__in=[p.pk for p in people[10:20]]).update(
        leaver_date=DAY, start_date=dt.date(2019, 12, 31)
    )
    assert_headcount_agrees(units)
    Person.objects.filter(pk__in=[p.pk for p in people[20:30]]).delete()
    PersonFactory(business_unit=first, start_date=DAY)
    assert_headcount_agrees(units)


def test_raw_sql_writes_keep_the_counts(units, people):
    first, second = units["leaves"][0], units["leaves"][1]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE devices_person SET business_unit_id = CASE WHEN business_unit_id = %s "
            "THEN %s ELSE %s END WHERE business_unit_id IN (%s, %s)",
            [first.pk, second.pk, first.pk, first.pk, second.pk],
        )
        cursor.execute("UPDATE devices_person SET at_needs = NOT at_needs")
        cursor.execute(
            "DELETE FROM devices_person WHERE id IN (%s, %s)", [people[40].pk, people[41].pk]
        )
    assert_headcount_agrees(units)


def test_the_migration_backfill_rebuilds_the_people_counts(units, people):
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM refresh_personcount")
    assert kept() == {}

    class StatementRunner:
        connection = connection

        def execute(self, sql: str) -> None:
            with connection.cursor() as cursor:
                cursor.execute(sql)

    migration_0009.create_counts(None, StatementRunner(), kept=[migration_0009.PEOPLE])
    assert_headcount_agrees(units)
    PersonFactory(business_unit=units["leaves"][1])
    assert_headcount_agrees(units)  # the re-created triggers count it once


def test_the_headcount_reads_a_unit_count_and_the_few_people_outside_the_day(
    units, people, django_assert_num_queries
):
    scope = UnitScope.subtree(units["scopes"][0])
    # Whole estate: the units' counts and the people outside the day per unit (the
    # total is their sum).
    with django_assert_num_queries(2) as captured:
        headcount(day=DAY)
    sqls = [q["sql"] for q in captured.captured_queries]
    assert "refresh_personcount" in sqls[0]
    assert '"start_date" >' in sqls[1] and '"leaver_date" <=' in sqls[1]
    # Scoped: the same two within the scope, and the organisation's total in one.
    with django_assert_num_queries(3):
        headcount(day=DAY, scope=scope)
    # No breakdown: one query for the total, one more for the scope's.
    with django_assert_num_queries(1):
        headcount(day=DAY, by_unit=False)
    with django_assert_num_queries(2):
        headcount(day=DAY, scope=scope, by_unit=False)
    with django_assert_num_queries(1):  # a scope of no units: only the total
        assert headcount(day=DAY, scope=UnitScope(unrestricted=False), by_unit=False)[0] == {
            None: 0
        }
