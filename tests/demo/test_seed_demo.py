"""The demo estate: deterministic, shaped like the business case, and an initial load only."""

import datetime as dt
import random
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.models import Count, Q

from accounts.models import BusinessUnit
from demo.management.commands import seed_demo as seed_demo_command
from devices.demo import estate_digest
from devices.models import (
    Category,
    Device,
    DeviceEvent,
    DeviceModel,
    Entitlement,
    EntitlementException,
    Person,
)

TODAY = dt.date(2025, 11, 1)
SMALL = 2000


def seed(devices=SMALL, seed_value="7", *extra):
    out = StringIO()
    call_command(
        "seed_demo",
        "--devices",
        str(devices),
        "--seed",
        seed_value,
        "--today",
        TODAY.isoformat(),
        "--no-progress",
        *extra,
        stdout=out,
    )
    return out.getvalue()


def digest_of(seed_value: str) -> str:
    """Seed inside a transaction that is rolled back, so the next seed starts empty."""
    with transaction.atomic():
        seed(500, seed_value, "--skip-hooks")
        digest = estate_digest()
        transaction.set_rollback(True)
    return digest


@pytest.mark.django_db
def test_same_seed_gives_the_same_estate_and_another_seed_a_different_one():
    # Given the same seed and 'today' twice, and then another seed
    first, again, other = digest_of("7"), digest_of("7"), digest_of("8")
    # Then the content digests match for the same seed and differ for another
    assert first == again
    assert first != other


@pytest.mark.django_db
def test_each_apps_demo_hook_runs_in_order_with_its_own_random_stream(monkeypatch):
    # Given a demo module for every app that records its call
    calls = []

    def recorder(app):
        def seed_app(*, rng, today, stdout):
            calls.append((app, rng.random(), today, stdout is not None))

        return seed_app

    apps = [app for app, _seed in seed_demo_command.DEMO_STEPS]
    assert apps == ["refresh", "procurement", "disposals", "reports"]
    monkeypatch.setattr(
        seed_demo_command, "DEMO_STEPS", tuple((app, recorder(app)) for app in apps)
    )
    # When seeding
    output = seed(100, "7")
    # Then each hook ran once, in order, with Random("<seed>:<app>") and the demo's today
    assert calls == [(app, random.Random(f"7:{app}").random(), TODAY, True) for app in apps]
    assert "Seeding refresh demo data" in output


@pytest.mark.django_db
def test_a_failure_part_way_leaves_nothing_written_and_every_constraint_in_place(monkeypatch):
    # Given a generator that breaks after a few hundred devices
    from devices import demo

    real = demo._Generator.unassigned_device
    calls = {"n": 0}

    def breaking(self, unit):
        calls["n"] += 1
        if calls["n"] > 300:
            raise RuntimeError("disk full")
        return real(self, unit)

    monkeypatch.setattr(demo._Generator, "unassigned_device", breaking)
    # When seeding (blocks small enough that some were already written)
    monkeypatch.setattr(demo, "BLOCK_PEOPLE", 100)
    with pytest.raises(RuntimeError, match="disk full"):
        seed(3000, "7", "--skip-hooks")
    # Then nothing of the estate is left
    assert not Device.objects.exists()
    assert not Person.objects.exists()
    assert not DeviceEvent.objects.exists()
    if connection.vendor == "postgresql":
        # and the constraints dropped for the bulk load came back with the rollback.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_constraint WHERE conname IN "
                "('devices_device_unique_manufacturer_serial', 'devices_person_staff_number_key')"
            )
            assert cursor.fetchone()[0] == 2


# The checks below share one seeded estate (the tests above need an empty one, so they
# come first: the module fixture lives from its first use to the end of the module).
@pytest.fixture(scope="module")
def seeded_once(django_db_setup, django_db_blocker):
    """Seed once for the module's read-only checks, in a transaction rolled back at the end
    (each test's own transaction nests inside it as a savepoint)."""
    with django_db_blocker.unblock(), transaction.atomic():
        seed(SMALL, "7", "--skip-hooks")
        yield
        transaction.set_rollback(True)


@pytest.fixture
def estate(seeded_once, db):
    return None


def test_the_estate_has_exactly_the_devices_asked_for_and_people_in_proportion(estate):
    assert Device.objects.count() == SMALL
    people = Person.objects.count()
    assert 0.5 * SMALL < people < 0.62 * SMALL


def test_laptops_are_the_bulk_and_every_category_is_present(estate):
    by_category = dict(Device.objects.values_list("device_model__category").annotate(n=Count("id")))
    assert set(by_category) == set(Category.values)
    assert by_category[Category.LAPTOP] > 0.5 * SMALL
    # Tablets are a legacy category: the smallest.
    assert by_category[Category.TABLET] == min(by_category.values())


def test_statuses_are_valid_mostly_deployed_and_assignment_obeys_the_rule(estate):
    by_status = dict(Device.objects.values_list("status").annotate(n=Count("id")))
    assert set(by_status) <= set(Device.Status.values)
    assert by_status[Device.Status.DEPLOYED] > 0.7 * SMALL
    assert {Device.Status.IN_STOCK, Device.Status.DISPOSED, Device.Status.LOST_STOLEN} <= set(
        by_status
    )
    # Assigned only in use (the DB check constraint), and every deployed device has a holder.
    assert (
        not Device.objects.filter(
            assigned_to__isnull=False,
        )
        .exclude(status__in=[Device.Status.DEPLOYED, Device.Status.IN_REPAIR])
        .exists()
    )
    assert not Device.objects.filter(
        status=Device.Status.DEPLOYED, assigned_to__isnull=True
    ).exists()


def test_every_device_has_one_received_event_at_its_purchase_date(estate):
    received = DeviceEvent.objects.filter(kind=DeviceEvent.Kind.RECEIVED)
    assert received.count() == SMALL
    assert received.values("device").distinct().count() == SMALL
    sample = received.select_related("device")[:50]
    assert all(e.occurred_at.date() == e.device.purchase_date for e in sample)


def test_repairs_are_more_frequent_on_older_devices(estate):
    def repairs_per_device(q):
        devices = Device.objects.filter(q)
        repairs = DeviceEvent.objects.filter(kind=DeviceEvent.Kind.REPAIRED, device__in=devices)
        return repairs.count() / devices.count()

    old = repairs_per_device(Q(purchase_date__year__lte=2019))
    new = repairs_per_device(Q(purchase_date__year__gte=2023))
    assert old > 2 * new > 0


def test_purchases_span_2016_to_2025_with_prices_and_warranties(estate):
    years = set(Device.objects.values_list("purchase_date__year", flat=True).distinct())
    assert min(years) == 2016
    assert max(years) == 2025
    assert not DeviceModel.objects.filter(
        Q(unit_price__isnull=True) | Q(end_of_support__isnull=True)
    ).exists()
    for device in Device.objects.select_related("device_model")[:200]:
        price = device.device_model.unit_price
        assert isinstance(device.purchase_cost, Decimal)
        assert abs(device.purchase_cost - price) <= price * Decimal("0.05")
        years_of_warranty = device.warranty_expires.year - device.purchase_date.year
        assert years_of_warranty in (3, 4)


def test_some_people_need_assistive_technology_and_some_leavers_still_hold_devices(estate):
    at_people = Person.objects.filter(at_needs=True)
    assert at_people.exists()
    assert not at_people.filter(at_note="").exists()
    assert Person.objects.filter(leaver_date__isnull=False, devices__isnull=False).exists()


def test_a_few_people_hold_more_than_their_entitlement(estate):
    allowance = {(e.role_profile_id, e.category): e.quantity for e in Entitlement.objects.all()}
    held = (
        Device.objects.filter(assigned_to__isnull=False)
        .values("assigned_to", "assigned_to__role_profile", "device_model__category")
        .annotate(n=Count("id"))
    )
    over = [
        row
        for row in held
        if row["n"]
        > allowance.get((row["assigned_to__role_profile"], row["device_model__category"]), 0)
    ]
    assert 0 < len(over) < 0.01 * Person.objects.count()
    # and each excess is an exception awaiting review, never a silent one
    awaiting = {
        (e.person_id, e.category): e.extra_quantity
        for e in EntitlementException.objects.filter(status=EntitlementException.Status.REQUESTED)
    }
    for row in over:
        key = (row["assigned_to"], row["device_model__category"])
        allowed = allowance.get(
            (row["assigned_to__role_profile"], row["device_model__category"]), 0
        )
        assert awaiting.get(key) == row["n"] - allowed, key
    assert len(awaiting) == len(over)


def test_some_devices_have_not_been_seen_for_more_than_90_days(estate):
    in_use = Device.objects.filter(
        status__in=[Device.Status.DEPLOYED, Device.Status.IN_REPAIR], last_seen__isnull=False
    )
    cutoff = dt.datetime.combine(TODAY - dt.timedelta(days=90), dt.time(), tzinfo=dt.UTC)
    idle = in_use.filter(last_seen__lt=cutoff).count()
    assert 0 < idle < 0.15 * in_use.count()


def test_business_units_form_one_tree_under_met_with_paths_kept(estate):
    units = list(BusinessUnit.objects.select_related("parent"))
    assert 35 <= len(units) <= 45
    roots = [u for u in units if u.parent is None]
    assert [r.code for r in roots] == ["MET"]
    for unit in units:
        expected = (unit.parent.path if unit.parent else "") + unit.code + "/"
        assert unit.path == expected
        assert unit.cost_centre and unit.stewardship_email


def test_if_empty_does_nothing_when_the_estate_exists(estate):
    # Given a seeded estate
    before = (Device.objects.count(), DeviceEvent.objects.count(), Person.objects.count())
    # When seeding again with --if-empty
    output = seed(SMALL, "99", "--if-empty")
    # Then nothing changed and it says why
    assert "already exists" in output
    assert (Device.objects.count(), DeviceEvent.objects.count(), Person.objects.count()) == before


def test_seeding_over_an_existing_estate_without_if_empty_is_refused(estate):
    with pytest.raises(CommandError, match="already has devices"):
        seed(SMALL, "99")
    assert Device.objects.count() == SMALL


def test_rows_created_after_seeding_get_fresh_ids(estate):
    # Given a seeded estate written with explicit ids
    from tests.factories import DeviceFactory

    # When the app creates a device the ordinary way
    device = DeviceFactory(business_unit=BusinessUnit.objects.get(code="MET"))
    # Then its id follows the seeded ones (the sequences were moved on)
    assert device.pk > Device.objects.exclude(pk=device.pk).order_by("-pk").first().pk
