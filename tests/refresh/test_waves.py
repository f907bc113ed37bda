import datetime as dt

import pytest
from django.utils import timezone

from accounts.roles import Role
from core.errors import DomainError
from devices.models import Category, Device, DeviceEvent, EntitlementException
from refresh import services
from refresh.models import WaveItem
from tests.factories import (
    BusinessUnitFactory,
    DeviceFactory,
    DeviceModelFactory,
    PersonFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def unit(db):
    return BusinessUnitFactory(code="UNIT")


@pytest.fixture
def store(db):
    """The central store a completed swap's old device goes back to."""
    return BusinessUnitFactory(code="EUS-STORES")


def deployed(person, **kwargs):
    kwargs.setdefault("purchase_date", dt.date(2019, 1, 1))
    return DeviceFactory(
        status=Device.Status.DEPLOYED,
        assigned_to=person,
        business_unit=person.business_unit,
        **kwargs,
    )


@pytest.fixture
def swap(policies, unit, asset_manager):
    """A planned swap for a response officer's old laptop, and a new laptop in stock."""
    person = PersonFactory(business_unit=unit)
    old = deployed(person)
    services.eligibility_recompute()
    wave = services.wave_create(name="Wave 1", volume=10, actor=asset_manager)
    new = DeviceFactory(business_unit=unit, purchase_date=dt.date(2025, 1, 1))
    return {"item": wave.items.get(), "old": old, "new": new, "person": person, "wave": wave}


def test_wave_selects_due_deployed_devices_by_priority_up_to_its_volume(
    policies, unit, asset_manager
):
    people = [PersonFactory(business_unit=unit) for _ in range(4)]
    oldest = deployed(people[0], purchase_date=dt.date(2016, 1, 1))
    older = deployed(people[1], purchase_date=dt.date(2018, 1, 1))
    deployed(people[2], purchase_date=dt.date(2020, 1, 1))
    deployed(people[3], purchase_date=timezone.localdate())  # not due
    DeviceFactory(business_unit=unit, purchase_date=dt.date(2015, 1, 1))  # in stock: no swap
    services.eligibility_recompute()
    wave = services.wave_create(name="W", volume=2, actor=asset_manager)
    assert [i.old_device_id for i in wave.items.order_by("-priority")] == [oldest.pk, older.pk]
    # a second wave does not take devices already in a live swap
    second = services.wave_create(name="W2", volume=5, actor=asset_manager)
    assert second.items.count() == 1


def test_wave_filters_by_category_and_minimum_priority(policies, unit, asset_manager):
    person = PersonFactory(business_unit=unit)
    deployed(person, purchase_date=dt.date(2019, 1, 1))
    services.eligibility_recompute()
    with pytest.raises(DomainError):
        services.wave_create(name="W", volume=2, actor=asset_manager, category=Category.MONITOR)
    with pytest.raises(DomainError):
        services.wave_create(name="W", volume=2, actor=asset_manager, min_priority=10_000)


def test_full_swap_completes_returns_the_old_device_and_logs_both(swap, store, asset_manager):
    item = services.swap_allocate(item=swap["item"], new_device=swap["new"], actor=asset_manager)
    assert item.status == WaveItem.Status.ALLOCATED
    services.swap_hand_over(item=item, actor=asset_manager)
    services.swap_record_return(item=item, actor=asset_manager, condition="good")
    item = services.swap_complete(item=item, actor=asset_manager)
    assert item.status == WaveItem.Status.COMPLETED
    old, new = Device.objects.get(pk=swap["old"].pk), Device.objects.get(pk=swap["new"].pk)
    assert old.status == Device.Status.RETURNED
    assert old.assigned_to is None
    assert new.status == Device.Status.DEPLOYED
    assert new.assigned_to == swap["person"]
    source = f"wave:{swap['wave'].pk}"
    assert DeviceEvent.objects.filter(
        device=old, source=source, kind=DeviceEvent.Kind.RETURNED
    ).exists()
    assert DeviceEvent.objects.filter(
        device=new, source=source, kind=DeviceEvent.Kind.DEPLOYED
    ).exists()
    assert DeviceEvent.objects.filter(
        device=new, source=source, kind=DeviceEvent.Kind.NOTE
    ).exists()


def test_steps_out_of_order_are_refused(swap, asset_manager):
    with pytest.raises(DomainError) as err:
        services.swap_complete(item=swap["item"], actor=asset_manager)
    assert err.value.code == "transition_not_allowed"
    with pytest.raises(DomainError):
        services.swap_hand_over(item=swap["item"], actor=asset_manager)
    assert WaveItem.objects.get(pk=swap["item"].pk).status == WaveItem.Status.PLANNED


def test_allocation_refuses_wrong_category_deployed_or_other_units_stock(swap, asset_manager):
    monitor = DeviceFactory(
        business_unit=swap["person"].business_unit,
        device_model=DeviceModelFactory(name="Monitor", category=Category.MONITOR),
    )
    elsewhere = DeviceFactory(business_unit=BusinessUnitFactory(code="ELSEWHERE"))
    for bad in (monitor, elsewhere, swap["old"]):
        with pytest.raises(DomainError) as err:
            services.swap_allocate(item=swap["item"], new_device=bad, actor=asset_manager)
        assert err.value.field == "new_device"
    central = DeviceFactory(business_unit=BusinessUnitFactory(code="STORE-NORTH"))
    item = services.swap_allocate(item=swap["item"], new_device=central, actor=asset_manager)
    assert item.new_device_id == central.pk


def test_allocation_looks_the_device_up_within_the_actors_scope(swap, make_user):
    from accounts.roles import Role

    scoped = make_user(Role.ASSET_MANAGER, units=[swap["person"].business_unit])
    elsewhere = DeviceFactory(business_unit=BusinessUnitFactory(code="SOUTH"))
    with pytest.raises(DomainError) as err:
        services.swap_allocate(item=swap["item"], new_device=elsewhere, actor=scoped)
    assert (err.value.field, str(err.value)) == ("new_device", services.DEVICE_NOT_FOUND)
    assert str(elsewhere) not in str(err.value)
    assert WaveItem.objects.get(pk=swap["item"].pk).new_device_id is None
    item = services.swap_allocate(item=swap["item"], new_device=swap["new"], actor=scoped)
    assert item.new_device_id == swap["new"].pk


def test_a_stock_device_cannot_be_allocated_to_two_swaps(policies, unit, asset_manager):
    people = [PersonFactory(business_unit=unit) for _ in range(2)]
    for p in people:
        deployed(p)
    services.eligibility_recompute()
    wave = services.wave_create(name="W", volume=2, actor=asset_manager)
    first, second = wave.items.all()
    stock = DeviceFactory(business_unit=unit)
    services.swap_allocate(item=first, new_device=stock, actor=asset_manager)
    with pytest.raises(DomainError) as err:
        services.swap_allocate(item=second, new_device=stock, actor=asset_manager)
    assert "already allocated" in str(err.value)


def test_hand_over_is_refused_above_entitlement_and_allowed_with_an_exception(swap, asset_manager):
    # given the person already holds a second laptop (their role allows one)
    deployed(swap["person"], purchase_date=dt.date(2024, 1, 1))
    item = services.swap_allocate(item=swap["item"], new_device=swap["new"], actor=asset_manager)
    # when the new laptop is handed over, then it is refused and nothing moved
    with pytest.raises(DomainError) as err:
        services.swap_hand_over(item=item, actor=asset_manager)
    assert err.value.code == "entitlement_exceeded"
    assert Device.objects.get(pk=swap["new"].pk).status == Device.Status.IN_STOCK
    assert WaveItem.objects.get(pk=item.pk).status == WaveItem.Status.ALLOCATED
    # when an exception is recorded with a reason and approver, then it goes through
    EntitlementException.objects.create(
        person=swap["person"],
        category=Category.LAPTOP,
        reason="Second laptop for covert role",
        approved_by=asset_manager,
        approved_at=timezone.now(),
    )
    item = services.swap_hand_over(item=item, actor=asset_manager)
    assert item.status == WaveItem.Status.HANDED_OVER


def test_swap_for_a_person_with_at_needs_cannot_complete_until_at_is_confirmed(
    policies, unit, store, asset_manager, make_user
):
    person = PersonFactory(business_unit=unit, at_needs=True, at_note="Screen reader")
    deployed(person)
    services.eligibility_recompute()
    item = services.wave_create(name="AT wave", volume=1, actor=asset_manager).items.get()
    new = DeviceFactory(business_unit=unit)
    services.swap_allocate(item=item, new_device=new, actor=asset_manager)
    services.swap_hand_over(item=item, actor=asset_manager)
    services.swap_record_return(item=item, actor=asset_manager, condition="good")
    with pytest.raises(DomainError) as err:
        services.swap_complete(item=item, actor=asset_manager)
    assert err.value.code == "at_confirmation_required"
    assert WaveItem.objects.get(pk=item.pk).status == WaveItem.Status.RETURNED
    assert Device.objects.get(pk=item.old_device_id).status == Device.Status.DEPLOYED
    with pytest.raises(DomainError):
        services.swap_confirm_at(item=item, actor=asset_manager, note="  ")
    # The confirmation is a second pair of eyes: not the one who handed over.
    with pytest.raises(DomainError) as err:
        services.swap_confirm_at(item=item, actor=asset_manager, note="JAWS tested")
    assert err.value.code == "same_person"
    colleague = make_user(Role.ASSET_MANAGER)
    services.swap_confirm_at(item=item, actor=colleague, note="JAWS and ZoomText tested")
    assert (
        services.swap_complete(item=item, actor=asset_manager).status == WaveItem.Status.COMPLETED
    )


def test_cancelling_an_allocated_swap_releases_the_stock_device(swap, asset_manager):
    item = services.swap_allocate(item=swap["item"], new_device=swap["new"], actor=asset_manager)
    services.swap_cancel(item=item, actor=asset_manager, reason="Officer on long-term leave")
    assert WaveItem.objects.get(pk=item.pk).status == WaveItem.Status.CANCELLED
    person = PersonFactory(business_unit=swap["person"].business_unit)
    deployed(person)
    services.eligibility_recompute()
    again = services.wave_create(name="W again", volume=5, actor=asset_manager)
    # the cancelled swap's old device is selectable again, and the stock device is free
    assert again.items.count() == 2
    other = again.items.exclude(old_device=swap["old"]).get()
    assert services.swap_allocate(item=other, new_device=swap["new"], actor=asset_manager)
