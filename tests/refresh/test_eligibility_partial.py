"""Eligibility after an import or bulk upsert is recomputed for the devices it
changed, not the whole estate: ``devices.signals.estate_changed`` carries their ids
(``device_ids``; None or absent means the whole estate). Proved by rows touched:
every other device's row is left stale on purpose and must stay so."""

import datetime as dt

import pytest

from devices.models import Device
from devices.signals import estate_changed
from refresh import services
from refresh.models import DeviceEligibility, EligibilityRun
from tests.factories import BusinessUnitFactory, DeviceFactory, PersonFactory

pytestmark = pytest.mark.django_db

STALE = -7  # a priority the recompute never gives: marks rows it did not touch


@pytest.fixture
def estate(policies):
    unit = BusinessUnitFactory(code="CE")
    devices = [
        DeviceFactory(
            business_unit=unit,
            status=Device.Status.DEPLOYED,
            assigned_to=PersonFactory(business_unit=unit),
            purchase_date=dt.date(2019, 1, 1),
        )
        for _ in range(10)
    ]
    services.eligibility_recompute()
    DeviceEligibility.objects.update(priority=STALE)
    return devices


def touched() -> set[int]:
    return set(DeviceEligibility.objects.exclude(priority=STALE).values_list("pk", flat=True))


def test_a_partial_recompute_rewrites_only_the_devices_given(estate):
    chosen = [d.pk for d in estate[:4]]
    run = services.eligibility_recompute(trigger="import", device_ids=chosen + chosen[:1])
    assert touched() == set(chosen)
    assert (run.partial_device_count, run.device_count, run.whole_estate) == (4, 4, False)
    assert DeviceEligibility.objects.filter(priority=STALE).count() == 6


def test_a_partial_recompute_adds_new_devices_and_drops_those_that_left(estate):
    leaving, staying_stale = estate[0], estate[1]
    Device.objects.filter(pk__in=[leaving.pk, staying_stale.pk]).update(
        status=Device.Status.RETURNED, assigned_to=None
    )
    new = DeviceFactory(business_unit=leaving.business_unit, purchase_date=dt.date(2018, 1, 1))
    services.eligibility_recompute(device_ids=[leaving.pk, new.pk])
    assert not DeviceEligibility.objects.filter(pk=leaving.pk).exists()
    assert DeviceEligibility.objects.get(pk=new.pk).is_due is True
    # a device outside the list keeps its row until a recompute covers it
    assert DeviceEligibility.objects.get(pk=staying_stale.pk).priority == STALE


def test_an_empty_list_recomputes_nothing(estate):
    assert services.eligibility_recompute(device_ids=[]) is None
    assert EligibilityRun.objects.count() == 1
    assert touched() == set()


def test_too_many_ids_recompute_the_whole_estate(estate, monkeypatch):
    from refresh.services import eligibility

    monkeypatch.setattr(eligibility, "PARTIAL_RECOMPUTE_LIMIT", 3)
    run = services.eligibility_recompute(device_ids=[d.pk for d in estate[:4]])
    assert run.whole_estate
    assert touched() == {d.pk for d in estate}


def test_a_partial_recompute_costs_the_same_queries_for_any_number_of_devices(estate):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for n in (2, 6):
        DeviceEligibility.objects.update(priority=STALE)
        # the policies, the run, (the lock on PostgreSQL), the upsert, the stale
        # delete, the count, the run's update: the ids are one parameter
        with CaptureQueriesContext(connection) as queries:
            services.eligibility_recompute(device_ids=[d.pk for d in estate[:n]])
        counts.append(len(queries))
        assert len(touched()) == n
    assert counts[0] == counts[1]


def send(**kwargs):
    estate_changed.send(sender="devices", trigger="import", actor_id=None, **kwargs)


def test_the_estate_signal_with_ids_recomputes_those_devices(estate):
    send(device_ids=[estate[0].pk, estate[1].pk])
    run = EligibilityRun.objects.first()
    assert (run.trigger, run.partial_device_count) == ("import", 2)
    assert touched() == {estate[0].pk, estate[1].pk}


@pytest.mark.parametrize("kwargs", [{}, {"device_ids": None}], ids=["absent", "none"])
def test_the_estate_signal_without_ids_recomputes_the_whole_estate(estate, kwargs):
    send(**kwargs)
    assert EligibilityRun.objects.first().whole_estate
    assert touched() == {d.pk for d in estate}


def test_the_estate_signal_with_no_changed_devices_recomputes_nothing(estate):
    send(device_ids=[])
    assert EligibilityRun.objects.count() == 1


def test_an_import_of_four_rows_recomputes_four_devices_not_the_estate(
    estate, asset_manager, tmp_path, django_capture_on_commit_callbacks
):
    from devices.importing import services as import_services
    from tests.devices.import_files import device_row, text_file

    rows = [device_row(serial_number=f"SN-NEW-{n}", purchase_date="2019-01-10") for n in range(4)]
    path = text_file(tmp_path / "four.csv", rows)
    run = import_services.import_run_create(file_name="four.csv", path=path, actor=asset_manager)
    with django_capture_on_commit_callbacks(execute=True):
        import_services.import_run_execute(run=run, path=path)

    recompute = EligibilityRun.objects.first()
    assert (recompute.trigger, recompute.partial_device_count) == ("import", 4)
    new = set(
        Device.objects.filter(serial_number__startswith="SN-NEW-").values_list("pk", flat=True)
    )
    assert touched() == new
    assert DeviceEligibility.objects.filter(priority=STALE).count() == len(estate)
