"""The failure-rate snapshot: the same figures as the per-request statement it
replaced, refreshed by the nightly task and the demo, and its time on the page."""

import datetime as dt
import random
from collections import defaultdict
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.models import BusinessUnit
from accounts.roles import Role
from accounts.scoping import UnitScope
from devices.models import Category
from refresh import services
from refresh.models import FailureRateSnapshot
from refresh.selectors.failures import AGE_BANDS, failure_rates, failure_rates_snapshot
from refresh.selectors.forecast_engine import CATEGORIES
from refresh.tasks import eligibility_recompute_task
from tests.factories import (
    BusinessUnitFactory,
    DeviceEventFactory,
    DeviceFactory,
    DeviceModelFactory,
)

pytestmark = pytest.mark.django_db


def per_request_failure_rates(*, scope) -> list[dict]:
    """The selector as it was before the snapshot (git 2fb65f2), verbatim but for
    its docstring: the oracle the snapshot's sums must match."""
    vendor = connection.vendor
    if vendor == "postgresql":
        repair_age = "(CAST(e.occurred_at AS date) - d.purchase_date) / 365.25"
        device_age = "(CAST(%s AS date) - d.purchase_date) / 365.25"
        floor = "FLOOR"
    else:
        repair_age = "(julianday(e.occurred_at) - julianday(d.purchase_date)) / 365.25"
        device_age = "(julianday(%s) - julianday(d.purchase_date)) / 365.25"
        floor = ""
    band = "CASE WHEN {a} >= 6 THEN 6 WHEN {a} < 0 THEN 0 ELSE CAST({f}({a}) AS INTEGER) END"
    if scope.empty:
        return []
    scope_sql, scope_params = "", []
    if not scope.unrestricted:
        units_sql, units_params = (
            BusinessUnit.objects.within(scope).order_by().values("pk").query.sql_with_params()
        )
        scope_sql = f" AND d.business_unit_id IN ({units_sql})"
        scope_params = list(units_params)
    today = connection.ops.adapt_datefield_value(timezone.localdate())
    sql = f"""
SELECT 'r', dm.category, {band.format(a=repair_age, f=floor)} AS band, COUNT(*)
FROM devices_deviceevent e
JOIN devices_device d ON d.id = e.device_id
JOIN devices_devicemodel dm ON dm.id = d.device_model_id
WHERE e.kind = 'repaired' AND d.purchase_date IS NOT NULL{scope_sql}
GROUP BY dm.category, band
UNION ALL
SELECT 'd', dm.category, {band.format(a=device_age, f=floor)} AS band, COUNT(*)
FROM devices_device d
JOIN devices_devicemodel dm ON dm.id = d.device_model_id
WHERE d.purchase_date IS NOT NULL{scope_sql}
GROUP BY dm.category, band
"""  # noqa: S608
    params = [*scope_params, today, today, today, *scope_params]
    repairs: dict[tuple[str, int], int] = defaultdict(int)
    by_age: dict[tuple[str, int], int] = defaultdict(int)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for kind, cat, band_no, n in cursor.fetchall():
            target = repairs if kind == "r" else by_age
            target[(cat, int(band_no))] += n
    out = []
    for cat in CATEGORIES:
        reached = 0
        reached_by_band = {}
        for b in range(6, -1, -1):
            reached += by_age.get((cat, b), 0)
            reached_by_band[b] = reached
        if not reached_by_band[0]:
            continue
        for b, label in enumerate(AGE_BANDS):
            devices = reached_by_band[b]
            n = repairs.get((cat, b), 0)
            rate = (Decimal(n) * 100 / devices).quantize(Decimal("0.1")) if devices else None
            out.append(
                {"category": cat, "band": label, "repairs": n, "devices": devices, "rate": rate}
            )
    return out


@pytest.fixture
def tree():
    """Two commands, three units beneath them and one unit on its own."""
    north = BusinessUnitFactory(code="NORTH", level=BusinessUnit.Level.COMMAND)
    south = BusinessUnitFactory(code="SOUTH", level=BusinessUnit.Level.COMMAND)
    return {
        "north": north,
        "south": south,
        "north-east": BusinessUnitFactory(code="NORTH-EAST", parent=north),
        "north-west": BusinessUnitFactory(code="NORTH-WEST", parent=north),
        "south-east": BusinessUnitFactory(code="SOUTH-EAST", parent=south),
        "alone": BusinessUnitFactory(code="ALONE"),
    }


@pytest.fixture
def varied_estate(tree):
    """Devices of every age from new to nine years (and some undated), in four
    categories across the units, with repairs at every age, before purchase and
    after today; the tablet category is left with no devices."""
    rng = random.Random(14)  # noqa: S311 - test data, not security
    today = timezone.localdate()
    models = {
        category: DeviceModelFactory(name=f"Model {category}", category=category)
        for category in (Category.LAPTOP, Category.DESKTOP, Category.MONITOR, Category.SMARTPHONE)
    }
    units = list(tree.values())
    for i in range(90):
        category = rng.choice(list(models))
        # The alone unit has laptops only, so a scope of it lacks the other categories.
        unit = tree["alone"] if category == Category.LAPTOP and i % 5 == 0 else rng.choice(units)
        if unit == tree["alone"] and category != Category.LAPTOP:
            unit = tree["north"]
        purchase = None if i % 11 == 0 else today - dt.timedelta(days=rng.randint(0, 9 * 366))
        device = DeviceFactory(
            business_unit=unit, device_model=models[category], purchase_date=purchase
        )
        for _ in range(rng.randint(0, 4)):
            base = purchase or today
            # Mostly between purchase and today; some before purchase, a few ahead.
            days = rng.randint(-60, max((today - base).days + 400, 1))
            DeviceEventFactory(
                device=device,
                kind=rng.choice(["repaired", "repaired", "repaired", "note"]),
                occurred_at=dt.datetime.combine(
                    base + dt.timedelta(days=days), dt.time(13), tzinfo=dt.UTC
                ),
            )
    return tree


def scopes(tree):
    return [
        UnitScope(unrestricted=True),
        UnitScope.subtree(tree["north"]),
        UnitScope.subtree(tree["south-east"]),
        UnitScope.subtree(tree["alone"]),
        UnitScope(unrestricted=False, paths=(tree["north-west"].path, tree["south"].path)),
        UnitScope(unrestricted=False),
    ]


def test_the_snapshot_gives_the_per_request_statements_rows_and_rates_in_every_scope(
    varied_estate,
):
    # Given a varied estate and a snapshot of it
    services.failure_rates_snapshot_refresh()
    # Then every scope's rows, in order, with their rates, are the old selector's
    checked = 0
    for scope in scopes(varied_estate):
        expected = per_request_failure_rates(scope=scope)
        assert failure_rates(scope=scope) == expected, scope
        checked += len(expected)
    # (the estate is varied enough that the comparison compares something: several
    # categories, repairs in most bands, and a band with no devices)
    everything = per_request_failure_rates(scope=UnitScope(unrestricted=True))
    assert {r["category"] for r in everything} == {"laptop", "desktop", "monitor", "smartphone"}
    assert sum(r["repairs"] > 0 for r in everything) >= 20
    assert checked > len(everything)
    alone = per_request_failure_rates(scope=UnitScope.subtree(varied_estate["alone"]))
    assert {r["category"] for r in alone} == {"laptop"}


def test_a_second_refresh_replaces_the_first(varied_estate):
    # Given a snapshot, then a new repair and a device that leaves the estate
    services.failure_rates_snapshot_refresh()
    first = FailureRateSnapshot.objects.count()
    device = DeviceFactory(business_unit=varied_estate["alone"], purchase_date=dt.date(2015, 1, 1))
    DeviceEventFactory(device=device, kind="repaired")
    # When refreshing again
    later = timezone.now() + dt.timedelta(hours=1)
    assert services.failure_rates_snapshot_refresh(now=later) == later
    # Then the rows are the new figures only, all of the new moment
    assert set(FailureRateSnapshot.objects.values_list("computed_at", flat=True)) == {later}
    assert FailureRateSnapshot.objects.count() >= first
    scope = UnitScope(unrestricted=True)
    assert failure_rates(scope=scope) == per_request_failure_rates(scope=scope)


def test_the_snapshot_is_scoped_like_the_units_it_counts(varied_estate):
    services.failure_rates_snapshot_refresh()
    south = FailureRateSnapshot.objects.within(UnitScope.subtree(varied_estate["south"]))
    assert south.exists()
    assert set(south.values_list("business_unit__code", flat=True)) <= {"SOUTH", "SOUTH-EAST"}


def test_the_nightly_task_refreshes_the_snapshot(varied_estate):
    assert not FailureRateSnapshot.objects.exists()
    eligibility_recompute_task(trigger="nightly")
    assert FailureRateSnapshot.objects.exists()
    scope = UnitScope(unrestricted=True)
    assert failure_rates(scope=scope) == per_request_failure_rates(scope=scope)


def test_only_the_nightly_recompute_refreshes_the_snapshot(varied_estate):
    eligibility_recompute_task(trigger="manual")
    assert not FailureRateSnapshot.objects.exists()


def test_the_page_shows_the_time_the_figures_are_as_at(client, make_user, varied_estate):
    # Given a snapshot computed at 02:00 London time on 3 November 2026
    at = dt.datetime(2026, 11, 3, 2, 0, tzinfo=dt.UTC)
    services.failure_rates_snapshot_refresh(now=at)
    client.force_login(make_user(Role.ASSET_MANAGER))
    # When the page opens
    response = client.get(reverse("refresh:failure_rates"))
    # Then it shows that moment, says the figures are refreshed nightly, and does
    # not recompute them
    body = response.content.decode()
    assert "Figures as at 02:00 on 3 November 2026 (refreshed nightly)." in body
    assert set(FailureRateSnapshot.objects.values_list("computed_at", flat=True)) == {at}
    assert response.context["rows"]


def test_without_a_snapshot_the_page_computes_one_and_says_so(client, make_user, varied_estate):
    # Given no snapshot yet
    assert not FailureRateSnapshot.objects.exists()
    client.force_login(make_user(Role.ASSET_MANAGER))
    # When the page opens
    response = client.get(reverse("refresh:failure_rates"))
    # Then it computed one through the service, shows its figures and says so
    body = response.content.decode()
    assert "No snapshot had been computed yet, so these figures were computed just now" in body
    assert "(refreshed nightly)" not in body
    assert FailureRateSnapshot.objects.exists()
    scope = UnitScope(unrestricted=True)
    assert response.context["rows"] == per_request_failure_rates(scope=scope)
    # And the next visit reads the stored snapshot
    again = client.get(reverse("refresh:failure_rates")).content.decode()
    assert "(refreshed nightly)" in again


def test_a_scope_without_rows_still_gets_the_time(tree):
    services.failure_rates_snapshot_refresh()  # an estate without devices: no rows
    DeviceFactory(business_unit=tree["north"], purchase_date=dt.date(2020, 1, 1))
    at = services.failure_rates_snapshot_refresh()
    result = failure_rates_snapshot(scope=UnitScope.subtree(tree["south"]))
    assert (result.rows, result.as_at) == ([], at)
