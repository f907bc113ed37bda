"""factory_boy factories for the estate, shared by every test folder."""

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from accounts import services as accounts_services
from accounts.models import BusinessUnit, UserScope
from devices.models import (
    Category,
    Device,
    DeviceEvent,
    DeviceModel,
    Entitlement,
    Manufacturer,
    Person,
    RoleProfile,
)


class BusinessUnitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BusinessUnit

    code = factory.Sequence(lambda n: f"BU{n:04d}")
    name = factory.LazyAttribute(lambda o: f"Unit {o.code}")
    parent = None
    level = BusinessUnit.Level.UNIT
    stewardship_email = factory.LazyAttribute(lambda o: f"{o.code.lower()}@example.police.uk")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        # Through the service, so the materialised path is right.
        return accounts_services.business_unit_save(unit=model_class(*args, **kwargs))


class RoleProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoleProfile
        django_get_or_create = ("code",)
        skip_postgeneration_save = True

    code = "response"
    name = "Response officer"

    @factory.post_generation
    def entitlements(self, create, extracted, **kwargs):
        """``entitlements={"laptop": 1, "smartphone": 1}`` (the default for response)."""
        if not create:
            return
        wanted = (
            extracted if extracted is not None else {Category.LAPTOP: 1, Category.SMARTPHONE: 1}
        )
        for category, quantity in wanted.items():
            Entitlement.objects.update_or_create(
                role_profile=self, category=category, defaults={"quantity": quantity}
            )


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Person

    staff_number = factory.Sequence(lambda n: f"S{n:07d}")
    business_unit = factory.SubFactory(BusinessUnitFactory)
    role_profile = factory.SubFactory(RoleProfileFactory)
    at_needs = False
    start_date = dt.date(2020, 1, 6)


class ManufacturerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Manufacturer
        django_get_or_create = ("name",)

    name = "Dell"


class DeviceModelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DeviceModel
        django_get_or_create = ("manufacturer", "name")

    manufacturer = factory.SubFactory(ManufacturerFactory)
    name = "Latitude 5440"
    category = Category.LAPTOP
    unit_price = Decimal("899.00")
    end_of_support = dt.date(2030, 12, 31)


class DeviceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Device

    # A prefix of its own, so factory devices never collide with a seeded demo estate (MPS...).
    asset_tag = factory.Sequence(lambda n: f"TAG{n:07d}")
    serial_number = factory.Sequence(lambda n: f"SN{n:09d}")
    device_model = factory.SubFactory(DeviceModelFactory)
    manufacturer = factory.LazyAttribute(lambda o: o.device_model.manufacturer)
    status = Device.Status.IN_STOCK
    # A disposed device with no disposal case is one disposed before records began: the
    # database (PostgreSQL) refuses any other disposal status without a case.
    historical = factory.LazyAttribute(lambda o: o.status == Device.Status.DISPOSED)
    business_unit = factory.SubFactory(BusinessUnitFactory)
    assigned_to = None
    purchase_date = dt.date(2021, 5, 10)
    warranty_expires = dt.date(2024, 5, 10)
    purchase_cost = Decimal("899.00")


class DeviceEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DeviceEvent

    device = factory.SubFactory(DeviceFactory)
    kind = DeviceEvent.Kind.NOTE
    occurred_at = factory.LazyFunction(lambda: dt.datetime(2024, 1, 1, tzinfo=dt.UTC))


class UserFactory(factory.django.DjangoModelFactory):
    """``UserFactory(role=Role.FINANCE, units=[unit])``: a user holding a role, scoped."""

    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("correct-horse-battery")
    role = None
    units = ()

    @classmethod
    def _create(cls, model_class, *args, role=None, units=(), **kwargs):
        user = super()._create(model_class, *args, **kwargs)
        if role is not None:
            user.groups.add(Group.objects.get_or_create(name=role.value)[0])
        for unit in units:
            UserScope.objects.create(user=user, business_unit=unit)
        return user
