import datetime as dt

import pytest
from django.utils import timezone

from devices.models import Category, Device, DeviceEvent
from refresh import services
from refresh.models import DeviceEligibility
from tests.factories import DeviceEventFactory, DeviceFactory, DeviceModelFactory, PersonFactory
from tests.refresh.conftest import TODAY

pytestmark = pytest.mark.django_db


def eligibility(device):
    return DeviceEligibility.objects.get(device=device)


def test_device_exactly_at_its_lifecycle_is_due_on_that_day(policies, recompute):
    # given a laptop bought exactly 48 months before today, and one a day younger
    at_lifecycle = DeviceFactory(purchase_date=dt.date(2021, 6, 15))
    day_younger = DeviceFactory(purchase_date=dt.date(2021, 6, 16))
    # when eligibility is computed
    recompute()
    # then the first is due by age today and the second is not
    assert eligibility(at_lifecycle).is_due is True
    assert eligibility(at_lifecycle).reason_age is True
    assert eligibility(at_lifecycle).due_date == TODAY
    assert eligibility(day_younger).is_due is False
    assert eligibility(day_younger).due_date == dt.date(2025, 6, 16)


def test_due_date_clamps_to_month_end_on_every_database(policies, recompute):
    # given a smartphone (36 months) bought on 31 January 2022... and a laptop on 29 Feb 2024
    phone_model = DeviceModelFactory(name="iPhone 13", category=Category.SMARTPHONE)
    leap = DeviceFactory(purchase_date=dt.date(2020, 2, 29))
    phone = DeviceFactory(device_model=phone_model, purchase_date=dt.date(2022, 5, 31))
    recompute()
    # then the due date is the last day of the due month, as PostgreSQL computes it
    assert eligibility(leap).due_date == dt.date(2024, 2, 29)
    assert eligibility(phone).due_date == dt.date(2025, 5, 31)


def test_os_end_of_support_makes_a_young_device_due(policies, recompute):
    services.os_end_of_support_save(os_prefix="Windows 10", end_of_support=dt.date(2025, 6, 15))
    young_win10 = DeviceFactory(purchase_date=dt.date(2024, 1, 1), os_version="windows 10 22H2")
    young_win11 = DeviceFactory(purchase_date=dt.date(2024, 1, 1), os_version="Windows 11 23H2")
    recompute()
    assert eligibility(young_win10).reason_os_end_of_support is True
    assert eligibility(young_win10).is_due is True
    assert eligibility(young_win11).reason_os_end_of_support is False
    assert eligibility(young_win11).is_due is False


def test_os_end_of_support_is_only_a_reason_when_the_policy_does_not_force_refresh(
    policies, recompute
):
    services.refresh_policy_create(
        category=Category.LAPTOP,
        effective_from=dt.date(2025, 1, 1),
        lifecycle_months=48,
        repair_threshold=3,
        idle_days=90,
        os_end_of_support_forces_refresh=False,
    )
    services.os_end_of_support_save(os_prefix="Windows 10", end_of_support=dt.date(2025, 1, 1))
    device = DeviceFactory(purchase_date=dt.date(2024, 1, 1), os_version="Windows 10")
    recompute()
    assert eligibility(device).reason_os_end_of_support is True
    assert eligibility(device).is_due is False


def test_repair_threshold_makes_a_device_due_at_the_threshold_not_before(policies, recompute):
    two_repairs = DeviceFactory(purchase_date=dt.date(2024, 1, 1))
    three_repairs = DeviceFactory(purchase_date=dt.date(2024, 1, 1))
    for device, n in ((two_repairs, 2), (three_repairs, 3)):
        for _ in range(n):
            DeviceEventFactory(device=device, kind=DeviceEvent.Kind.REPAIRED)
    DeviceEventFactory(device=two_repairs, kind=DeviceEvent.Kind.REPAIR_STARTED)
    recompute()
    assert eligibility(two_repairs).repair_count == 2
    assert eligibility(two_repairs).is_due is False
    assert eligibility(three_repairs).reason_repairs is True
    assert eligibility(three_repairs).is_due is True


def test_idle_deployed_device_is_flagged_for_reclaim_not_refresh(policies, recompute):
    person = PersonFactory()
    now = timezone.now()
    idle = DeviceFactory(
        status=Device.Status.DEPLOYED,
        assigned_to=person,
        purchase_date=dt.date(2019, 1, 1),
        last_seen=now - dt.timedelta(days=91),
    )
    seen = DeviceFactory(
        status=Device.Status.DEPLOYED,
        assigned_to=person,
        purchase_date=dt.date(2019, 1, 1),
        last_seen=now - dt.timedelta(days=89),
    )
    services.eligibility_recompute()
    assert eligibility(idle).reclaim is True
    assert eligibility(idle).is_due is False
    assert eligibility(seen).reclaim is False
    assert eligibility(seen).is_due is True


def test_only_devices_in_use_or_in_stock_are_eligible(policies, recompute):
    kept = [
        DeviceFactory(status=Device.Status.IN_STOCK),
        DeviceFactory(status=Device.Status.IN_REPAIR),
    ]
    # A device enters a disposal status only with a disposal case (a database rule on
    # PostgreSQL); one disposed before records began is recorded as historical.
    gone = [
        DeviceFactory(status=Device.Status.DISPOSED, historical=True),
        *(
            DeviceFactory(status=status)
            for status in (Device.Status.LOST_STOLEN, Device.Status.RETURNED)
        ),
    ]
    recompute()
    rows = set(DeviceEligibility.objects.values_list("device_id", flat=True))
    assert rows == {d.pk for d in kept}
    assert not rows & {d.pk for d in gone}


def test_recompute_removes_devices_that_left_the_estate(policies, recompute):
    device = DeviceFactory()
    recompute()
    Device.objects.filter(pk=device.pk).update(status=Device.Status.RETURNED)
    run = recompute()
    assert not DeviceEligibility.objects.filter(device=device).exists()
    assert run.device_count == 0
    assert run.finished_at is not None


def test_priority_puts_older_and_more_repaired_devices_first(policies, recompute):
    old = DeviceFactory(purchase_date=dt.date(2018, 1, 1))
    newer = DeviceFactory(purchase_date=dt.date(2020, 1, 1))
    newer_repaired = DeviceFactory(purchase_date=dt.date(2020, 1, 1))
    for _ in range(3):
        DeviceEventFactory(device=newer_repaired, kind=DeviceEvent.Kind.REPAIRED)
    recompute()
    assert eligibility(old).priority > eligibility(newer).priority
    assert eligibility(newer_repaired).priority > eligibility(newer).priority


def test_out_of_warranty_is_a_reason_but_not_due_on_its_own(policies, recompute):
    device = DeviceFactory(purchase_date=dt.date(2024, 1, 1), warranty_expires=dt.date(2025, 1, 1))
    recompute()
    assert eligibility(device).reason_out_of_warranty is True
    assert eligibility(device).is_due is False
    assert "Out of warranty" in eligibility(device).reasons


def test_model_end_of_support_makes_a_device_due(policies, recompute):
    model = DeviceModelFactory(name="Old model", end_of_support=dt.date(2025, 1, 1))
    device = DeviceFactory(device_model=model, purchase_date=dt.date(2024, 1, 1))
    recompute()
    assert eligibility(device).reason_model_end_of_support is True
    assert eligibility(device).is_due is True


def test_policy_in_force_is_the_latest_effective_on_the_date(policies, recompute):
    # given a laptop policy change to 60 months effective after today and one before
    later = services.refresh_policy_create(
        category=Category.LAPTOP, effective_from=dt.date(2025, 7, 1), lifecycle_months=24
    )
    current = services.refresh_policy_create(
        category=Category.LAPTOP, effective_from=dt.date(2025, 6, 1), lifecycle_months=60
    )
    device = DeviceFactory(purchase_date=dt.date(2021, 1, 1))
    recompute()
    row = eligibility(device)
    assert row.policy_id == current.pk != later.pk
    assert row.due_date == dt.date(2026, 1, 1)
    assert row.is_due is False


def test_new_policy_does_not_rewrite_a_wave_already_selected(policies, recompute, asset_manager):
    person = PersonFactory()
    device = DeviceFactory(
        status=Device.Status.DEPLOYED, assigned_to=person, purchase_date=dt.date(2019, 1, 1)
    )
    services.eligibility_recompute()
    wave = services.wave_create(name="W1", volume=5, actor=asset_manager)
    old_policy = policies[Category.LAPTOP]
    services.refresh_policy_create(
        category=Category.LAPTOP, effective_from=dt.date(2025, 1, 2), lifecycle_months=120
    )
    services.eligibility_recompute()
    item = wave.items.get()
    assert item.old_device_id == device.pk
    assert item.policy_id == old_policy.pk
    assert eligibility(device).policy_id != old_policy.pk


def test_policy_with_bad_lifecycle_is_refused_with_the_field_named(policies):
    from core.errors import DomainError

    with pytest.raises(DomainError) as err:
        services.refresh_policy_create(
            category=Category.LAPTOP, effective_from=dt.date(2026, 1, 1), lifecycle_months=0
        )
    assert err.value.field == "lifecycle_months"


def test_recompute_request_queues_the_task_after_commit(
    policies, django_capture_on_commit_callbacks
):
    DeviceFactory(purchase_date=dt.date(2019, 1, 1))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.eligibility_recompute_request()
    assert len(callbacks) == 1
    assert DeviceEligibility.objects.filter(is_due=True).count() == 1


def test_an_unchanged_row_keeps_its_computed_at_and_a_changed_one_moves(policies):
    steady = DeviceFactory(purchase_date=dt.date(2020, 1, 1))
    services.eligibility_recompute(today=dt.date(2025, 6, 15))
    first = eligibility(steady).computed_at
    changing = DeviceFactory(purchase_date=dt.date(2020, 1, 1))
    DeviceEventFactory(device=steady, kind=DeviceEvent.Kind.NOTE)
    run = services.eligibility_recompute(today=dt.date(2025, 6, 15))
    assert eligibility(steady).computed_at == first
    assert eligibility(changing).computed_at >= run.started_at
    for _ in range(3):
        DeviceEventFactory(device=steady, kind=DeviceEvent.Kind.REPAIRED)
    services.eligibility_recompute(today=dt.date(2025, 6, 15))
    assert eligibility(steady).repair_count == 3
    assert eligibility(steady).computed_at > first


@pytest.mark.parametrize(
    ("purchased", "due_fy"),
    [(dt.date(2021, 3, 31), 2024), (dt.date(2021, 4, 1), 2025), (dt.date(2021, 12, 31), 2025)],
)
def test_due_financial_year_turns_on_the_first_of_april(policies, recompute, purchased, due_fy):
    device = DeviceFactory(purchase_date=purchased)
    recompute()
    assert eligibility(device).due_financial_year == due_fy


def test_the_task_the_importer_queues_records_an_import_run(policies, asset_manager):
    from refresh.models import EligibilityRun
    from refresh.tasks import eligibility_recompute_task

    DeviceFactory(purchase_date=dt.date(2019, 1, 1))
    result = eligibility_recompute_task.delay(trigger="import", actor_id=asset_manager.pk)
    assert result.get() == 1
    run = EligibilityRun.objects.get()
    assert (run.trigger, run.requested_by) == (EligibilityRun.Trigger.IMPORT, asset_manager)
