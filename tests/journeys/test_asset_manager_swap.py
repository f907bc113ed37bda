"""Journey: an asset manager takes a refresh swap from a wave to completion (issue 14,
"swap flows that capture what an engineer knows"), in a real browser.

They create a wave, open its first swap, allocate the new laptop by typing its
serial number and pressing Enter (as a barcode scanner does), record the handover,
the old laptop's return with its condition and notes, and complete the swap; each
banner says what happened. They then start cancelling the second swap: the page asks
why, shows a separate confirmation with the reason, and only then cancels. Every page
visited passes ``check_page`` (axe, fits a 390 px screen); the wave page and the swap
page are kept as screenshots ("wave", "swap").
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.services import user_create
from devices.models import Device
from refresh import services
from refresh.models import SwapStep, WaveItem
from tests.browser_support import PASSWORD, check_page, sign_in
from tests.factories import BusinessUnitFactory, DeviceFactory, PersonFactory
from tests.refresh.conftest import policies  # noqa: F401 - the fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SERIAL = "5CG3190KQW"


@pytest.fixture
def estate(transactional_db, policies):  # noqa: F811 - the imported fixture
    north = BusinessUnitFactory(code="NORTH", name="North Area")
    store = BusinessUnitFactory(code="EUS-STORES", name="Central stores")
    for n, staff_number in enumerate(("N0012345", "N0067890")):
        DeviceFactory(
            asset_tag=f"MPS00{n}1000",
            business_unit=north,
            status=Device.Status.DEPLOYED,
            assigned_to=PersonFactory(staff_number=staff_number, business_unit=north),
            purchase_date=dt.date(2018, 3, 1) + dt.timedelta(days=40 * n),
            location="Lambeth HQ, 3rd floor",
        )
    # Stock in the central store: the new laptop, and others the search would list.
    new = DeviceFactory(
        asset_tag="MPS0099001", serial_number=SERIAL, business_unit=store, location="Hendon"
    )
    DeviceFactory.create_batch(3, business_unit=store)
    services.eligibility_recompute()
    user_create(username="amira.manager", role="asset-manager", password=PASSWORD)
    return {"new": new}


def banner(page):
    return page.locator(".govuk-notification-banner--success")


def test_asset_manager_takes_a_swap_from_a_wave_to_completion_and_cancels_another(
    page, live_server, estate
):
    sign_in(page, live_server, "amira.manager")

    # Create the wave from the waves page.
    page.goto(f"{live_server.url}/refresh/waves/")
    check_page(page)
    page.fill("#id_name", "North laptops, wave 1")
    page.select_option("#id_category", "laptop")
    page.fill("#id_volume", "2")
    page.get_by_role("button", name="Create wave").click()
    page.wait_for_load_state("networkidle")
    expect(banner(page)).to_contain_text("North laptops, wave 1")
    expect(page.locator("[data-test=swap-table] tbody tr")).to_have_count(2)
    check_page(page, "wave")

    # Open the first swap (highest priority: the older laptop).
    page.get_by_role("link", name="N0012345").click()
    page.wait_for_load_state("networkidle")
    expect(page.get_by_role("heading", level=1)).to_have_text("Swap for N0012345")
    check_page(page, "swap")

    # Allocate by typing the serial number and pressing Enter, as a scanner does.
    page.locator("#id_code").press_sequentially(SERIAL.lower())
    page.locator("#id_code").press("Enter")
    page.wait_for_load_state("networkidle")
    expect(banner(page)).to_contain_text("Swap for N0012345: MPS0099001 allocated")
    expect(page.locator("[data-test=new-device]")).to_contain_text("MPS0099001")
    check_page(page)

    # Hand over: today's date is filled in; add a note.
    expect(page.locator("#id_occurred_on_0")).to_have_value(str(timezone.localdate().day))
    page.fill("#id_notes", "Met the officer at the front counter")
    page.get_by_role("button", name="Record handover").click()
    page.wait_for_load_state("networkidle")
    expect(banner(page)).to_contain_text("Swap for N0012345: MPS0099001 handed over")

    # The old laptop comes back: the condition is required, and named when missing.
    page.get_by_role("button", name="Record old device returned").click()
    page.wait_for_load_state("networkidle")
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text("Choose the condition the old device came back in")
    check_page(page)
    summary.get_by_role("link").click()
    page.get_by_label("Worn: works, heavy wear").check()
    page.fill("#id_notes", "Cracked hinge, charger missing")
    page.get_by_role("button", name="Record old device returned").click()
    page.wait_for_load_state("networkidle")
    expect(banner(page)).to_contain_text("old device MPS0001000 returned (worn)")

    page.get_by_role("button", name="Complete swap").click()
    page.wait_for_load_state("networkidle")
    expect(banner(page)).to_contain_text(
        "Swap for N0012345 completed: MPS0099001 is now held in NORTH, MPS0001000 is back "
        "in EUS-STORES"
    )
    steps = page.locator("[data-test=swap-steps] tbody tr")
    expect(steps).to_have_count(4)
    expect(steps.nth(2)).to_contain_text("Worn: works, heavy wear")
    expect(steps.nth(2)).to_contain_text("Cracked hinge, charger missing")
    check_page(page)

    # The second swap: cancelling asks why, then confirms on a separate step.
    page.get_by_role("link", name="North laptops, wave 1").click()
    page.wait_for_load_state("networkidle")
    page.get_by_role("link", name="N0067890").click()
    page.wait_for_load_state("networkidle")
    page.get_by_role("button", name="Cancel this swap").click()
    page.wait_for_load_state("networkidle")
    expect(page.get_by_role("heading", level=1)).to_have_text("Cancel the swap for N0067890")
    check_page(page)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_load_state("networkidle")
    expect(page.locator(".govuk-error-summary")).to_contain_text("Say why the swap is cancelled")
    page.fill("#id_reason", "The officer retires next month")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_load_state("networkidle")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Are you sure you want to cancel the swap for N0067890?"
    )
    expect(page.locator("[data-test=cancel-reason]")).to_have_text("The officer retires next month")
    check_page(page)
    second = WaveItem.objects.get(person__staff_number="N0067890")
    assert second.status == WaveItem.Status.PLANNED  # nothing cancelled yet
    page.get_by_role("button", name="Yes, cancel the swap").click()
    page.wait_for_load_state("networkidle")
    expect(banner(page)).to_contain_text(
        "Swap for N0067890 cancelled: The officer retires next month"
    )

    second.refresh_from_db()
    assert second.status == WaveItem.Status.CANCELLED
    assert SwapStep.objects.get(item=second).reason == "The officer retires next month"
    first = WaveItem.objects.get(person__staff_number="N0012345")
    assert first.status == WaveItem.Status.COMPLETED
    assert Device.objects.get(pk=estate["new"].pk).business_unit.code == "NORTH"
