"""A hand-built estate whose every stewardship figure is known, for October 2026.

Units: A (``A/``) with sub-unit A1 (``A/A1/``), and B (``B/``).
Roles: response (1 laptop, 1 smartphone); desk (1 desktop, 2 monitors).

A:  pA1 response: 2 laptops deployed (1 over)
    pA2 response: 1 laptop (seen 10 days before the end), 1 smartphone (never seen)
    leaver (left 15 Oct 2026): 1 laptop deployed, last seen 200 days before the end (idle)
    future leaver (leaves 1 Dec 2026): 1 laptop deployed
    stock: 2 laptops; 1 disposed laptop (not held); 1 laptop lost in June 2025
A1: pSub desk: 1 desktop (last seen 120 days before: idle), 3 monitors (1 over)
    pExc response: 2 smartphones with an approved +1 smartphone exception (not over)
    stock: 1 monitor; 1 smartphone lost on 20 Oct 2026 (in the period)
B:  pB response: 1 laptop last seen 100 days before the end (idle)
    stock: 3 laptops; 1 laptop lost on 5 Oct 2026 (and again on 6 Oct: counted once);
    1 laptop lost at 00:30 on 1 Nov 2026 London time (outside the period)
"""

import datetime as dt
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

# Loaded before any frozen clock: DRF's throttle keeps ``time.time`` as a class attribute
# when its module is imported, and would keep freezegun's fake if imported under it.
import rest_framework.throttling  # noqa: F401, I001
from freezegun import freeze_time

from devices.models import Category, Device, DeviceEvent, EntitlementException
from tests.factories import (
    BusinessUnitFactory,
    DeviceEventFactory,
    DeviceFactory,
    DeviceModelFactory,
    PersonFactory,
    RoleProfileFactory,
    UserFactory,
)

LONDON = ZoneInfo("Europe/London")
PERIOD_START = dt.date(2026, 10, 1)
PERIOD_END = dt.date(2026, 10, 31)
END = dt.datetime(2026, 11, 1, tzinfo=LONDON)
D = Device.Status


def ago(days: int) -> dt.datetime:
    return END - dt.timedelta(days=days)


# The estate is recorded in September 2026, before the period: the figures are read as
# at the period's end, and records made after it (a person's history, a device's
# creation event) did not exist then.
RECORDED = "2026-09-15 09:00:00"


@pytest.fixture
def estate(db):
    with freeze_time(RECORDED):
        return _build_estate()


def _build_estate():
    models = {
        Category.LAPTOP: DeviceModelFactory(name="Latitude", category=Category.LAPTOP),
        Category.SMARTPHONE: DeviceModelFactory(name="iPhone", category=Category.SMARTPHONE),
        Category.DESKTOP: DeviceModelFactory(name="OptiPlex", category=Category.DESKTOP),
        Category.MONITOR: DeviceModelFactory(name="P2422H", category=Category.MONITOR),
    }
    response = RoleProfileFactory(code="response", name="Response officer")
    desk = RoleProfileFactory(
        code="desk",
        name="Fixed desk",
        entitlements={Category.DESKTOP: 1, Category.MONITOR: 2},
    )
    a = BusinessUnitFactory(code="A", name="Alpha", level="directorate")
    a1 = BusinessUnitFactory(code="A1", name="Alpha one", parent=a)
    b = BusinessUnitFactory(code="B", name="Bravo", level="directorate")

    def device(unit, category, status=D.IN_STOCK, person=None, last_seen=None, **kw):
        return DeviceFactory(
            business_unit=unit,
            device_model=models[category],
            status=status,
            assigned_to=person,
            last_seen=last_seen,
            **kw,
        )

    recent = ago(3)
    p_a1 = PersonFactory(staff_number="PA1", business_unit=a, role_profile=response)
    p_a2 = PersonFactory(staff_number="PA2", business_unit=a, role_profile=response)
    leaver = PersonFactory(
        staff_number="LEAVER",
        business_unit=a,
        role_profile=response,
        leaver_date=dt.date(2026, 10, 15),
    )
    future = PersonFactory(
        staff_number="FUTURE",
        business_unit=a,
        role_profile=response,
        leaver_date=dt.date(2026, 12, 1),
    )
    p_sub = PersonFactory(staff_number="PSUB", business_unit=a1, role_profile=desk)
    p_exc = PersonFactory(staff_number="PEXC", business_unit=a1, role_profile=response)
    p_b = PersonFactory(staff_number="PB", business_unit=b, role_profile=response)

    for _ in range(2):
        device(a, Category.LAPTOP, D.DEPLOYED, p_a1, recent)
    device(a, Category.LAPTOP, D.DEPLOYED, p_a2, ago(10))
    device(a, Category.SMARTPHONE, D.DEPLOYED, p_a2, None)
    device(a, Category.LAPTOP, D.DEPLOYED, leaver, ago(200))
    device(a, Category.LAPTOP, D.DEPLOYED, future, recent)
    for _ in range(2):
        device(a, Category.LAPTOP)
    device(a, Category.LAPTOP, D.DISPOSED)
    old_lost = device(a, Category.LAPTOP, D.LOST_STOLEN)
    DeviceEventFactory(
        device=old_lost,
        kind=DeviceEvent.Kind.LOST,
        occurred_at=dt.datetime(2025, 6, 1, tzinfo=dt.UTC),
    )

    device(a1, Category.DESKTOP, D.DEPLOYED, p_sub, ago(120))
    for _ in range(3):
        device(a1, Category.MONITOR, D.DEPLOYED, p_sub, recent)
    for _ in range(2):
        device(a1, Category.SMARTPHONE, D.DEPLOYED, p_exc, recent)
    approver = UserFactory()
    EntitlementException.objects.create(
        person=p_exc,
        category=Category.SMARTPHONE,
        extra_quantity=1,
        reason="Covert and overt handsets",
        approved_by=approver,
        approved_at=dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
    )
    device(a1, Category.MONITOR)
    lost_a1 = device(a1, Category.SMARTPHONE, D.LOST_STOLEN)
    DeviceEventFactory(
        device=lost_a1,
        kind=DeviceEvent.Kind.LOST,
        occurred_at=dt.datetime(2026, 10, 20, 9, tzinfo=dt.UTC),
    )

    device(b, Category.LAPTOP, D.DEPLOYED, p_b, ago(100))
    for _ in range(3):
        device(b, Category.LAPTOP)
    lost_b = device(b, Category.LAPTOP, D.LOST_STOLEN)
    for day in (5, 6):
        DeviceEventFactory(
            device=lost_b,
            kind=DeviceEvent.Kind.LOST,
            occurred_at=dt.datetime(2026, 10, day, tzinfo=dt.UTC),
        )
    late_b = device(b, Category.LAPTOP, D.LOST_STOLEN)
    DeviceEventFactory(
        device=late_b,
        kind=DeviceEvent.Kind.LOST,
        occurred_at=dt.datetime(2026, 11, 1, 0, 30, tzinfo=LONDON),
    )
    return SimpleNamespace(a=a, a1=a1, b=b, models=models, response=response, desk=desk)
