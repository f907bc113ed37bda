"""A swap's steps capture what the engineer knows: the day, the old device's
condition, notes, a cancellation's reason; allocation by a scanned or typed serial
number or asset tag. Through the services, so every door gets the same rules."""

import datetime as dt

import pytest
from django.utils import timezone

from accounts.roles import Role
from core.errors import DomainError
from devices.models import Category, Device, DeviceEvent
from refresh import services
from refresh.models import SwapStep, WaveItem
from tests.factories import (
    BusinessUnitFactory,
    DeviceFactory,
    DeviceModelFactory,
    ManufacturerFactory,
    PersonFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def unit(db):
    return BusinessUnitFactory(code="NORTH")


@pytest.fixture
def swap(policies, unit, asset_manager):
    """A planned swap for an officer's 2019 laptop, and a new laptop in NORTH's stock."""
    person = PersonFactory(business_unit=unit, staff_number="S1234")
    old = DeviceFactory(
        business_unit=unit,
        status=Device.Status.DEPLOYED,
        assigned_to=person,
        purchase_date=dt.date(2019, 1, 1),
        asset_tag="OLD-0001",
    )
    services.eligibility_recompute()
    wave = services.wave_create(name="Wave 1", volume=10, actor=asset_manager)
    new = DeviceFactory(business_unit=unit, asset_tag="AB123", serial_number="5CG1234XYZ")
    return {"item": wave.items.get(), "old": old, "new": new, "person": person}


def steps(item):
    return list(
        SwapStep.objects.filter(item=item)
        .order_by("pk")
        .values_list("step", "occurred_on", "old_device_condition", "notes", "reason")
    )


def test_each_step_records_its_day_condition_and_notes(swap, asset_manager):
    BusinessUnitFactory(code="EUS-STORES")
    today = timezone.localdate()
    item = services.swap_allocate_by_code(
        item=swap["item"], code="AB123", actor=asset_manager, notes="From the Hendon shelf"
    )
    services.swap_hand_over(item=item, actor=asset_manager, condition="worn", notes="Keys sticky")
    services.swap_record_return(item=item, actor=asset_manager, condition="damaged")
    services.swap_complete(item=item, actor=asset_manager, occurred_on=today, notes="Done")
    assert steps(item) == [
        ("allocated", today, "", "From the Hendon shelf", ""),
        ("handed_over", today, "worn", "Keys sticky", ""),
        ("returned", today, "damaged", "", ""),
        ("completed", today, "", "Done", ""),
    ]
    allocated = SwapStep.objects.get(item=item, step="allocated")
    assert (allocated.new_device_id, allocated.recorded_by) == (swap["new"].pk, asset_manager)
    # The old device's return event carries the condition it came back in.
    returned = DeviceEvent.objects.get(device=swap["old"], kind=DeviceEvent.Kind.RETURNED)
    assert returned.details["condition"] == SwapStep.Condition.DAMAGED.label


def test_a_step_may_be_recorded_for_an_earlier_day_but_not_the_future(swap, asset_manager):
    item = swap["item"]
    item.wave.created_at = timezone.now() - dt.timedelta(days=10)
    item.wave.save(update_fields=["created_at"])
    today = timezone.localdate()
    services.swap_allocate(
        item=item, new_device=swap["new"], actor=asset_manager, occurred_on=today - dt.timedelta(3)
    )
    # given the allocation three days ago, a handover tomorrow or before it is refused
    for day, words in (
        (today + dt.timedelta(days=1), "in the future"),
        (today - dt.timedelta(days=4), "before the swap's previous step"),
    ):
        with pytest.raises(DomainError) as err:
            services.swap_hand_over(item=item, actor=asset_manager, occurred_on=day)
        assert err.value.field == "occurred_on"
        assert words in err.value.message
    assert WaveItem.objects.get(pk=item.pk).status == WaveItem.Status.ALLOCATED
    assert Device.objects.get(pk=swap["new"].pk).status == Device.Status.IN_STOCK
    services.swap_hand_over(item=item, actor=asset_manager, occurred_on=today - dt.timedelta(2))
    assert [s[1] for s in steps(item)] == [today - dt.timedelta(3), today - dt.timedelta(2)]


def test_a_step_before_the_wave_was_created_is_refused(swap, asset_manager):
    with pytest.raises(DomainError) as err:
        services.swap_allocate(
            item=swap["item"],
            new_device=swap["new"],
            actor=asset_manager,
            occurred_on=dt.date(2020, 1, 1),
        )
    assert (err.value.field, "before the wave was created" in err.value.message) == (
        "occurred_on",
        True,
    )
    assert not SwapStep.objects.exists()


@pytest.mark.parametrize("condition", ["", "  ", "smashed"], ids=["blank", "spaces", "unknown"])
def test_a_return_needs_the_old_devices_condition(swap, asset_manager, condition):
    item = services.swap_allocate(item=swap["item"], new_device=swap["new"], actor=asset_manager)
    services.swap_hand_over(item=item, actor=asset_manager)
    with pytest.raises(DomainError) as err:
        services.swap_record_return(item=item, actor=asset_manager, condition=condition)
    assert err.value.field == "old_device_condition"
    assert WaveItem.objects.get(pk=item.pk).status == WaveItem.Status.HANDED_OVER
    assert [s[0] for s in steps(item)] == ["allocated", "handed_over"]


def test_a_cancellation_needs_a_reason_and_records_it(swap, asset_manager):
    item = services.swap_allocate(item=swap["item"], new_device=swap["new"], actor=asset_manager)
    for reason in ("", "   "):
        with pytest.raises(DomainError) as err:
            services.swap_cancel(item=item, actor=asset_manager, reason=reason)
        assert (err.value.field, err.value.code) == ("reason", "required")
    assert WaveItem.objects.get(pk=item.pk).status == WaveItem.Status.ALLOCATED
    services.swap_cancel(item=item, actor=asset_manager, reason="  Officer retired  ")
    assert WaveItem.objects.get(pk=item.pk).status == WaveItem.Status.CANCELLED
    assert steps(item)[-1][0::4] == ("cancelled", "Officer retired")


def test_a_swap_handed_over_cannot_be_cancelled(swap, asset_manager):
    item = services.swap_allocate(item=swap["item"], new_device=swap["new"], actor=asset_manager)
    services.swap_hand_over(item=item, actor=asset_manager)
    with pytest.raises(DomainError) as err:
        services.swap_cancel(item=item, actor=asset_manager, reason="Changed mind")
    assert err.value.code == "transition_not_allowed"
    assert not SwapStep.objects.filter(step="cancelled").exists()


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("notes", {"notes": "x" * 1001}),
        ("notes", {"notes": "bad\x00byte"}),
    ],
    ids=["notes-too-long", "notes-nul"],
)
def test_free_text_is_bounded_and_clean(swap, asset_manager, field, kwargs):
    with pytest.raises(DomainError) as err:
        services.swap_allocate(
            item=swap["item"], new_device=swap["new"], actor=asset_manager, **kwargs
        )
    assert err.value.field == field
    assert WaveItem.objects.get(pk=swap["item"].pk).status == WaveItem.Status.PLANNED


# --- Allocation by scan --------------------------------------------------------------


@pytest.mark.parametrize(
    "code", ["AB123", "ab123", "  AB123\n", "5CG1234XYZ"], ids=["tag", "lower", "spaces", "serial"]
)
def test_a_scanned_or_typed_tag_or_serial_allocates_that_device(swap, asset_manager, code):
    item = services.swap_allocate_by_code(item=swap["item"], code=code, actor=asset_manager)
    assert (item.status, item.new_device_id) == (WaveItem.Status.ALLOCATED, swap["new"].pk)


def test_a_code_outside_the_callers_units_is_not_found_and_says_nothing_of_it(
    swap, make_user, unit
):
    scoped = make_user(Role.ASSET_MANAGER, units=[unit])
    theirs = DeviceFactory(business_unit=BusinessUnitFactory(code="SOUTH"), asset_tag="SOUTH-9")
    with pytest.raises(DomainError) as err:
        services.swap_allocate_by_code(item=swap["item"], code="SOUTH-9", actor=scoped)
    assert (err.value.field, err.value.code) == ("code", "not_found")
    assert err.value.message == (
        "No device with the serial number or asset tag “SOUTH-9” in your units or the "
        "central stores."
    )
    assert theirs.serial_number not in err.value.message
    assert WaveItem.objects.get(pk=swap["item"].pk).new_device_id is None


def test_a_code_of_a_device_in_use_says_it_is_not_in_stock(swap, asset_manager):
    with pytest.raises(DomainError) as err:
        services.swap_allocate_by_code(item=swap["item"], code="OLD-0001", actor=asset_manager)
    assert err.value.field == "code"
    assert err.value.message == "OLD-0001 is deployed, not in stock."


def test_a_serial_shared_by_two_makers_picks_the_one_this_swap_can_take(swap, unit, asset_manager):
    other_maker = ManufacturerFactory(name="Other maker")
    monitor = DeviceModelFactory(manufacturer=other_maker, name="Screen", category=Category.MONITOR)
    DeviceFactory(
        business_unit=unit,
        manufacturer=other_maker,
        device_model=monitor,
        serial_number="5CG1234XYZ",
        asset_tag="MON-1",
    )
    item = services.swap_allocate_by_code(item=swap["item"], code="5CG1234XYZ", actor=asset_manager)
    assert item.new_device_id == swap["new"].pk


def test_a_serial_two_usable_laptops_share_asks_for_the_asset_tag(swap, unit, asset_manager):
    other_maker = ManufacturerFactory(name="Other maker")
    laptop = DeviceModelFactory(manufacturer=other_maker, name="Book", category=Category.LAPTOP)
    DeviceFactory(
        business_unit=unit,
        manufacturer=other_maker,
        device_model=laptop,
        serial_number="5CG1234XYZ",
        asset_tag="BOOK-1",
    )
    with pytest.raises(DomainError) as err:
        services.swap_allocate_by_code(item=swap["item"], code="5CG1234XYZ", actor=asset_manager)
    assert (err.value.field, err.value.code) == ("code", "ambiguous")
    assert "asset tag" in err.value.message


@pytest.mark.parametrize(
    ("code", "expected"),
    [("", "required"), ("x" * 101, "invalid"), ("AB\x00123", "invalid"), ("AB\t1", "invalid")],
    ids=["blank", "too-long", "nul", "control"],
)
def test_a_code_that_cannot_be_a_tag_is_refused_before_any_lookup(
    swap, asset_manager, django_assert_num_queries, code, expected
):
    with django_assert_num_queries(0), pytest.raises(DomainError) as err:
        services.swap_allocate_by_code(item=swap["item"], code=code, actor=asset_manager)
    assert (err.value.field, err.value.code) == ("code", expected)


def test_live_swap_for_a_device_is_found_from_either_side(swap, asset_manager):
    from accounts.scoping import UnitScope
    from refresh import selectors

    everything = UnitScope(unrestricted=True)
    item = services.swap_allocate(item=swap["item"], new_device=swap["new"], actor=asset_manager)
    for device in (swap["old"], swap["new"]):
        assert selectors.live_swap_for_device(device_id=device.pk, scope=everything) == item
    nowhere = UnitScope(unrestricted=False)
    assert selectors.live_swap_for_device(device_id=swap["old"].pk, scope=nowhere) is None
    services.swap_cancel(item=item, actor=asset_manager, reason="Not needed")
    assert selectors.live_swap_for_device(device_id=swap["old"].pk, scope=everything) is None
