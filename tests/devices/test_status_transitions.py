"""A device's status changes only through the status machine."""

import pytest

from core.errors import DomainError
from devices import services
from devices.errors import TransitionNotAllowed
from devices.models import ALLOWED_TRANSITIONS, Category, Device, DeviceEvent, EntitlementException
from tests.factories import DeviceFactory, DeviceModelFactory, PersonFactory, RoleProfileFactory

pytestmark = pytest.mark.django_db


def test_every_status_has_an_entry_in_the_transition_table():
    assert set(ALLOWED_TRANSITIONS) == set(Device.Status.values)


def test_a_disposed_device_cannot_come_back_and_the_error_names_both_statuses():
    device = DeviceFactory(status=Device.Status.DISPOSED)
    with pytest.raises(TransitionNotAllowed) as excinfo:
        services.device_transition(device=device, to_status=Device.Status.IN_STOCK)
    assert "Disposed" in str(excinfo.value) and "In stock" in str(excinfo.value)
    device.refresh_from_db()
    assert device.status == Device.Status.DISPOSED
    assert not device.events.exists()


def test_a_device_cannot_skip_sanitisation_from_returned_to_disposed():
    device = DeviceFactory(status=Device.Status.RETURNED)
    with pytest.raises(TransitionNotAllowed):
        services.device_transition(device=device, to_status=Device.Status.DISPOSED)


def test_an_allowed_move_writes_one_event_and_bumps_the_version():
    device = DeviceFactory(status=Device.Status.IN_STOCK)
    services.device_transition(device=device, to_status=Device.Status.RETURNED, source="web")
    device.refresh_from_db()
    assert device.status == Device.Status.RETURNED
    assert device.version == 2
    event = device.events.get()
    assert (event.kind, event.from_status, event.to_status, event.source) == (
        DeviceEvent.Kind.RETURNED,
        Device.Status.IN_STOCK,
        Device.Status.RETURNED,
        "web",
    )


def test_returning_a_deployed_device_clears_its_assignment():
    person = PersonFactory()
    device = DeviceFactory(status=Device.Status.DEPLOYED, assigned_to=person)
    services.device_transition(device=device, to_status=Device.Status.RETURNED)
    device.refresh_from_db()
    assert device.assigned_to is None


def test_deploying_without_a_person_is_refused():
    device = DeviceFactory()
    with pytest.raises(DomainError, match="assigned"):
        services.device_transition(device=device, to_status=Device.Status.DEPLOYED)


def test_deployment_beyond_the_role_entitlement_is_refused_without_an_exception(make_user):
    role = RoleProfileFactory(code="desk", name="Fixed desk", entitlements={Category.LAPTOP: 1})
    person = PersonFactory(role_profile=role)
    DeviceFactory(status=Device.Status.DEPLOYED, assigned_to=person)
    second = DeviceFactory()

    with pytest.raises(DomainError) as excinfo:
        services.device_deploy(device=second, person=person)
    assert excinfo.value.code == "entitlement_exceeded"
    second.refresh_from_db()
    assert second.status == Device.Status.IN_STOCK


def test_an_approved_exception_allows_one_more(make_user):
    from django.utils import timezone

    from accounts.roles import Role

    approver = make_user(Role.ASSET_MANAGER)
    role = RoleProfileFactory(code="desk", name="Fixed desk", entitlements={Category.LAPTOP: 1})
    person = PersonFactory(role_profile=role)
    DeviceFactory(status=Device.Status.DEPLOYED, assigned_to=person)
    EntitlementException.objects.create(
        person=person,
        category=Category.LAPTOP,
        reason="Second laptop for a covert role",
        approved_by=approver,
        approved_at=timezone.now(),
    )
    second = DeviceFactory()
    services.device_deploy(device=second, person=person, actor=approver)
    second.refresh_from_db()
    assert (second.status, second.assigned_to) == (Device.Status.DEPLOYED, person)


def test_a_refresh_swap_does_not_count_the_device_being_replaced():
    role = RoleProfileFactory(code="desk", name="Fixed desk", entitlements={Category.LAPTOP: 1})
    person = PersonFactory(role_profile=role)
    old = DeviceFactory(status=Device.Status.DEPLOYED, assigned_to=person)
    new = DeviceFactory()
    services.device_deploy(device=new, person=person, replacing=old)
    new.refresh_from_db()
    assert new.assigned_to == person


def test_receiving_into_stock_creates_each_serial_once_with_a_received_event():
    model = DeviceModelFactory()
    unit = DeviceFactory().business_unit
    created = services.devices_receive_into_stock(
        device_model=model,
        business_unit=unit,
        serial_numbers=["R-001", "R-002"],
        purchase_cost=model.unit_price,
        purchase_date=None,
        source="po:1",
    )
    assert sorted(d.serial_number for d in created) == ["R-001", "R-002"]
    assert (
        DeviceEvent.objects.filter(device__in=created, kind=DeviceEvent.Kind.RECEIVED).count() == 2
    )


def test_receiving_a_serial_already_in_the_estate_creates_nothing():
    existing = DeviceFactory(serial_number="DUP-1")
    with pytest.raises(DomainError, match="DUP-1"):
        services.devices_receive_into_stock(
            device_model=existing.device_model,
            business_unit=existing.business_unit,
            serial_numbers=["NEW-1", "DUP-1"],
            purchase_cost=None,
            purchase_date=None,
        )
    assert not Device.objects.filter(serial_number="NEW-1").exists()


def test_deploying_a_device_to_the_person_who_already_holds_it_is_refused_and_writes_nothing():
    person = PersonFactory()
    device = DeviceFactory(status=Device.Status.DEPLOYED, assigned_to=person)
    with pytest.raises(DomainError) as excinfo:
        services.device_deploy(device=device, person=person)
    assert excinfo.value.code == "already_deployed"
    assert not device.events.exists()


def test_a_deployed_device_handed_to_someone_else_is_a_reassignment_event():
    holder, receiver = PersonFactory(), PersonFactory()
    device = DeviceFactory(status=Device.Status.DEPLOYED, assigned_to=holder)
    services.device_deploy(device=device, person=receiver)
    device.refresh_from_db()
    assert device.assigned_to == receiver
    event = device.events.get()
    assert (event.kind, event.details) == (
        DeviceEvent.Kind.REASSIGNED,
        {"from": holder.staff_number, "to": receiver.staff_number},
    )
