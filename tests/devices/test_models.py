"""Constraints live in the database as well as in forms."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from devices.models import Device, Person
from tests.factories import (
    BusinessUnitFactory,
    DeviceFactory,
    DeviceModelFactory,
    ManufacturerFactory,
    PersonFactory,
)

pytestmark = pytest.mark.django_db


def _violates(callable_):
    with pytest.raises(IntegrityError), transaction.atomic():
        callable_()


def test_serial_number_is_unique_per_manufacturer_in_the_database():
    device = DeviceFactory(serial_number="ABC123")
    _violates(
        lambda: Device.objects.create(
            serial_number="ABC123",
            manufacturer=device.manufacturer,
            device_model=device.device_model,
            business_unit=device.business_unit,
        )
    )


def test_the_same_serial_from_another_manufacturer_is_a_different_device():
    DeviceFactory(serial_number="ABC123")
    hp_model = DeviceModelFactory(manufacturer=ManufacturerFactory(name="HP"), name="EliteBook 840")
    other = DeviceFactory(serial_number="ABC123", device_model=hp_model)
    assert other.pk is not None


def test_asset_tag_is_unique_but_may_be_missing_on_many_devices():
    DeviceFactory(asset_tag="MPS0000001")
    _violates(lambda: DeviceFactory(asset_tag="MPS0000001"))
    DeviceFactory(asset_tag=None)
    DeviceFactory(asset_tag=None)
    assert Device.objects.filter(asset_tag__isnull=True).count() == 2


def test_purchase_cost_cannot_be_negative():
    _violates(lambda: DeviceFactory(purchase_cost=Decimal("-0.01")))


def test_catalogue_unit_price_cannot_be_negative():
    _violates(lambda: DeviceModelFactory(name="Negative", unit_price=Decimal("-1")))


def test_a_device_in_stock_cannot_be_assigned_to_a_person():
    person = PersonFactory()
    _violates(lambda: DeviceFactory(status=Device.Status.IN_STOCK, assigned_to=person))


def test_a_deployed_device_may_be_assigned():
    person = PersonFactory()
    device = DeviceFactory(status=Device.Status.DEPLOYED, assigned_to=person)
    assert device.assigned_to == person


def test_blank_serial_number_is_refused_by_the_database():
    _violates(lambda: DeviceFactory(serial_number=""))


def test_staff_number_is_unique_and_leaver_date_cannot_precede_start():
    person = PersonFactory(staff_number="S1")
    _violates(lambda: PersonFactory(staff_number="S1", business_unit=person.business_unit))
    import datetime as dt

    _violates(
        lambda: Person.objects.create(
            staff_number="S2",
            business_unit=person.business_unit,
            role_profile=person.role_profile,
            start_date=dt.date(2024, 1, 1),
            leaver_date=dt.date(2023, 12, 31),
        )
    )


def test_a_business_unit_in_use_cannot_be_deleted():
    device = DeviceFactory()
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        device.business_unit.delete()


def test_business_unit_paths_follow_the_tree_and_moves_re_root_the_subtree():
    from accounts import services

    root = BusinessUnitFactory(code="MET")
    command = BusinessUnitFactory(code="FLP", parent=root)
    unit = BusinessUnitFactory(code="CE", parent=command)
    other = BusinessUnitFactory(code="SO", parent=root)
    assert unit.path == "MET/FLP/CE/"

    command.parent = other
    services.business_unit_save(unit=command)

    unit.refresh_from_db()
    assert unit.path == "MET/SO/FLP/CE/"


def test_a_unit_cannot_move_under_its_own_descendant():
    from accounts import services
    from core.errors import DomainError

    root = BusinessUnitFactory(code="MET")
    child = BusinessUnitFactory(code="FLP", parent=root)
    root.parent = child
    with pytest.raises(DomainError, match="inside it"):
        services.business_unit_save(unit=root)
