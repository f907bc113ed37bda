"""Every refresh page in a real browser: it loads, has one h1, its chart draws
where it has one, and axe-core finds no accessibility violation."""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from accounts.services import user_create
from devices.models import Device, DeviceEvent
from refresh import services
from tests.factories import BusinessUnitFactory, DeviceEventFactory, DeviceFactory, PersonFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs /usr/bin/chromium"),
]

PASSWORD = "Correct-Horse-Battery-42"


@pytest.fixture
def planned(transactional_db, policies):
    unit = BusinessUnitFactory(code="NORTH", name="North Area")
    BusinessUnitFactory(code="EUS-STORES", name="Stores")
    for n in range(6):
        device = DeviceFactory(
            business_unit=unit,
            status=Device.Status.DEPLOYED,
            assigned_to=PersonFactory(business_unit=unit, at_needs=n == 0),
            purchase_date=dt.date(2019, 1, 1) + dt.timedelta(days=30 * n),
        )
        DeviceEventFactory(device=device, kind=DeviceEvent.Kind.REPAIRED)
    DeviceFactory(business_unit=unit)
    services.bau_rate_save(
        category="laptop", new_starters_per_year=10, planning_unit_price=Decimal("900")
    )
    finance = user_create(username="finance", role="finance", password=PASSWORD)
    manager = user_create(username="manager", role="asset-manager", password=PASSWORD)
    services.eligibility_recompute()
    services.baseline_snapshot_create(
        name="Plan", as_of=dt.date(2024, 11, 30), financial_years=services_years(), is_plan=True
    )
    scenario = services.scenario_save(
        name="Stretch", overrides={"lifecycle_months": {"laptop": 60}}, actor=finance
    )
    wave = services.wave_create(name="Wave 1", volume=3, actor=manager)
    return {"scenario": scenario, "wave": wave, "item": wave.items.first()}


def services_years():
    from refresh.selectors import default_financial_years

    return default_financial_years()[:2]


def sign_in(page, live_server, username):  # noqa: F811
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")


@pytest.mark.parametrize("username", ["finance", "manager"])
def test_refresh_pages_load_and_are_accessible(page, live_server, planned, username):  # noqa: F811
    from axe_playwright_python.sync_playwright import Axe

    sign_in(page, live_server, username)
    paths = [
        "/refresh/",
        "/refresh/forecast/",
        "/refresh/failure-rates/",
        "/refresh/policies/",
        "/refresh/bau-rates/",
        "/refresh/scenarios/",
        "/refresh/scenarios/new/",
        f"/refresh/scenarios/{planned['scenario'].pk}/",
        "/refresh/waves/",
        f"/refresh/waves/{planned['wave'].pk}/",
        f"/refresh/waves/{planned['wave'].pk}/swaps/{planned['item'].pk}/",
    ]
    for path in paths:
        response = page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        assert response.status == 200, path
        assert page.locator("h1").count() == 1, path
        results = Axe().run(page)
        assert results.violations_count == 0, f"{path}\n{results.generate_report()}"
    for path, chart in (
        ("/refresh/forecast/", "forecast-chart"),
        ("/refresh/failure-rates/", "failure-chart"),
    ):
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        drawn = page.evaluate(f"() => !!window.Chart && !!Chart.getChart('{chart}')")
        assert drawn, path
