"""In a browser: an asset manager takes returned devices through the board's bulk
actions (open cases, record a sanitisation result), and every disposal page passes
axe-core with no violations. Skipped without /usr/bin/chromium."""

import datetime as dt

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone

from accounts.services import user_create
from devices.models import Device
from disposals.models import DisposalCase, SanitisationRecord
from tests.browser_support import CHROMIUM
from tests.factories import BusinessUnitFactory, DeviceFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium"),
]
PASSWORD = "Correct-Horse-Battery-42"


def assert_no_axe_violations(page):  # noqa: F811
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def test_asset_manager_opens_cases_and_records_sanitisation_on_the_board(
    page,  # noqa: F811
    live_server,
):
    unit = BusinessUnitFactory(code="NORTH", name="North Area")
    devices = DeviceFactory.create_batch(3, business_unit=unit, status=Device.Status.RETURNED)
    user_create(username="manager", role="asset-manager", password=PASSWORD)
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "manager")
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")

    # Open cases for two of the three returned devices.
    page.goto(f"{live_server.url}/disposals/?queue=returned")
    assert_no_axe_violations(page)
    for device in devices[:2]:
        page.get_by_label(f"Select {device}").check()
    page.get_by_role("button", name="Open disposal cases").click()
    page.wait_for_load_state("networkidle")
    assert DisposalCase.objects.count() == 2

    # Record a passing wipe for both, operator and verifier different people.
    page.goto(f"{live_server.url}/disposals/?queue=awaiting_sanitisation")
    for device in devices[:2]:
        page.get_by_label(f"Select {device}").check()
    page.get_by_label("Method").select_option("overwrite")
    page.get_by_label("Standard").fill("HMG IS5 Enhanced")
    page.get_by_label("Tool or software").fill("Blancco Drive Eraser")
    page.get_by_label("Operator").fill("C1041 R. Osei")
    page.get_by_label("Verifier").fill("C2302 L. Byrne")
    when = timezone.localtime(timezone.now() - dt.timedelta(hours=1))
    page.get_by_label("Performed at").fill(when.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Pass").check()
    page.get_by_label("Certificate or log reference").fill("BATCH-1")
    page.get_by_role("button", name="Record sanitisation").click()
    page.wait_for_load_state("networkidle")

    assert SanitisationRecord.objects.filter(result="pass").count() == 2
    assert page.get_by_text("Recorded 2 sanitisation result(s).").is_visible()
    page.goto(f"{live_server.url}/disposals/devices/{devices[0].pk}/custody/")
    assert page.get_by_role("heading", name=devices[0].asset_tag).is_visible()
    assert_no_axe_violations(page)
    page.goto(f"{live_server.url}/disposals/summary/")
    assert_no_axe_violations(page)
