"""Every refresh page in a real browser: it loads, has one h1, its chart draws
where it has one, axe-core finds no accessibility violation, and it is no wider
than a 390 px phone screen (``tests.browser_support.check_page``)."""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from accounts.services import user_create
from devices.models import Device, DeviceEvent
from refresh import services
from tests.browser_support import check_page
from tests.factories import (
    BusinessUnitFactory,
    DeviceEventFactory,
    DeviceFactory,
    DeviceModelFactory,
    PersonFactory,
)

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
    # A tablet due: the forecast and scenario pages show it apart from the envelope.
    DeviceFactory(
        business_unit=unit,
        device_model=DeviceModelFactory(name="iPad", category="tablet"),
        purchase_date=dt.date(2019, 1, 1),
    )
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
    if username == "manager":
        paths.append(f"/refresh/waves/{planned['wave'].pk}/swaps/{planned['item'].pk}/cancel/")
    charts = ("/refresh/forecast/", "/refresh/failure-rates/")
    for path in paths:
        # A chart page is opened at phone width, as a phone opens it: Chart.js redraws
        # on a resize one frame later, so a canvas drawn at 1280 px and measured at once
        # after the switch to 390 px would count as overflow that no phone ever sees.
        width = 390 if path in charts else 1280
        page.set_viewport_size({"width": width, "height": 900})
        response = page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        assert response.status == 200, path
        assert page.locator("h1").count() == 1, path
        check_page(page)
    page.set_viewport_size({"width": 1280, "height": 900})
    for path, chart in (
        ("/refresh/forecast/", "forecast-chart"),
        ("/refresh/failure-rates/", "failure-chart"),
    ):
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        drawn = page.evaluate(f"() => !!window.Chart && !!Chart.getChart('{chart}')")
        assert drawn, path
