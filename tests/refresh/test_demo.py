import datetime as dt
import io
import random

import pytest

from devices.models import Device
from refresh import demo
from refresh.models import BaselineSnapshot, RefreshPolicy, RefreshWave, Scenario, WaveItem
from tests.factories import BusinessUnitFactory, DeviceFactory, PersonFactory

pytestmark = pytest.mark.django_db


def test_demo_seeds_policies_plan_scenarios_and_a_wave_in_progress():
    # given a small estate: a unit with old deployed laptops and a central store
    unit = BusinessUnitFactory(code="CW-RESP")
    store = BusinessUnitFactory(code="EUS-STORES")
    for n in range(12):
        DeviceFactory(
            business_unit=unit,
            status=Device.Status.DEPLOYED,
            assigned_to=PersonFactory(business_unit=unit, at_needs=n == 0),
            purchase_date=dt.date(2019, 1, 1) + dt.timedelta(days=n),
        )
    for _ in range(10):
        DeviceFactory(business_unit=store, purchase_date=dt.date(2025, 1, 1))
    out = io.StringIO()
    # when the demo runs
    demo.seed(rng=random.Random("test"), today=dt.date(2025, 6, 15), stdout=out)
    # then the policies, the plan baseline and the two named scenarios exist
    assert RefreshPolicy.objects.get(category="laptop").lifecycle_months == 48
    plan = BaselineSnapshot.objects.get(is_plan=True)
    assert plan.as_of == dt.date(2024, 11, 30)
    assert plan.rows.exists()
    assert set(Scenario.objects.values_list("name", flat=True)) == {
        "Stretch laptops to 60 months",
        "Defer monitors a year",
    }
    # and one wave whose swaps are spread over several states
    wave = RefreshWave.objects.get()
    states = set(wave.items.values_list("status", flat=True))
    assert {
        WaveItem.Status.COMPLETED,
        WaveItem.Status.ALLOCATED,
        WaveItem.Status.CANCELLED,
    } <= states
    # running it again changes nothing
    demo.seed(rng=random.Random("test"), today=dt.date(2025, 6, 15), stdout=out)
    assert RefreshWave.objects.count() == 1
