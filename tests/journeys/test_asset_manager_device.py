"""Journey: an asset manager works on one device from its page (issue 14, "act where
you look"), in a real browser.

They find a laptop by its serial number from the device list's search, open it and
deploy it to a person with assistive-technology needs from the device page: the
banner says exactly what happened and the timeline says it in words. A second asset
manager confirms the AT check (the deployer may not). A unit viewer opens the same
device and sees no actions and no purchase cost. Every page visited passes
``check_page`` (axe, fits a 390 px screen; the device page is kept as a screenshot).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from accounts.services import user_create
from devices.models import ATCheck, Device
from tests.browser_support import PASSWORD, check_page, sign_in
from tests.factories import BusinessUnitFactory, DeviceFactory, PersonFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SERIAL = "5CG2481JQZ"
COST = Decimal("1183.47")


@pytest.fixture
def estate(transactional_db):
    north = BusinessUnitFactory(code="NORTH", name="North Area")
    person = PersonFactory(staff_number="N0012345", business_unit=north, at_needs=True)
    device = DeviceFactory(
        asset_tag="MPS0004711",
        serial_number=SERIAL,
        business_unit=north,
        purchase_cost=COST,
        location="Lambeth HQ",
    )
    DeviceFactory.create_batch(3, business_unit=north)
    return {"device": device, "person": person}


@pytest.fixture
def accounts(estate):
    return {
        name: user_create(username=name, password=PASSWORD, **kwargs)
        for name, kwargs in {
            "amira.manager": {"role": "asset-manager"},
            "ben.manager": {"role": "asset-manager"},
            "north.viewer": {"role": "unit-viewer", "unit_codes": ["NORTH"]},
        }.items()
    }


def sign_out(page):
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state("networkidle")


def test_asset_manager_deploys_from_the_device_page_and_a_colleague_confirms_the_at_check(
    page, live_server, accounts, estate
):
    device = estate["device"]

    # An asset manager finds the laptop by serial number from the device list
    sign_in(page, live_server, "amira.manager")
    page.goto(f"{live_server.url}/devices/")
    page.fill("#id_q", SERIAL.lower())
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_load_state("networkidle")
    results = page.locator("[data-test=device-table] tbody tr")
    expect(results).to_have_count(1)
    check_page(page)
    results.get_by_role("link", name="MPS0004711").click()
    page.wait_for_load_state("networkidle")
    expect(page.get_by_role("heading", level=1)).to_contain_text("MPS0004711")
    check_page(page, "device-page")

    # ... and deploys it to a person, typing their staff number on the device page
    deploy = page.locator("[data-test=deploy-form]")
    deploy.get_by_label("Staff number of the person receiving it").fill("N0012345")
    deploy.get_by_role("button", name="Deploy").click()
    page.wait_for_load_state("networkidle")

    banner = page.locator(".govuk-notification-banner--success")
    expect(banner).to_contain_text("MPS0004711 deployed to staff number N0012345.")
    expect(banner).to_contain_text("an AT check is open")
    timeline = page.locator("[data-test=timeline]")
    first = timeline.locator(".moj-timeline__item").first
    expect(first.locator(".moj-timeline__title")).to_have_text("Deployed")
    expect(first).to_contain_text("In stock → Deployed")
    expect(first).to_contain_text("Deployed to staff number N0012345")
    expect(first).to_contain_text("by amira.manager")
    expect(page.locator("[data-test=holder]")).to_contain_text("N0012345")
    expect(page.locator("[data-test=at-checks]")).to_contain_text("Awaiting confirmation")
    check_page(page)

    # The deployer may not confirm the AT check themselves
    at_form = page.locator("[data-test=at-check-form]")
    at_form.get_by_label("What did you check?").fill("Screen reader works")
    at_form.get_by_role("button", name="Confirm AT works").click()
    page.wait_for_load_state("networkidle")
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text("someone other than who deployed the device")
    check_page(page)
    assert ATCheck.objects.get().pending
    sign_out(page)

    # A second asset manager confirms it from the device page
    sign_in(page, live_server, "ben.manager")
    page.goto(f"{live_server.url}/devices/{device.pk}/")
    at_form = page.locator("[data-test=at-check-form]")
    at_form.get_by_label("What did you check?").fill(
        "Screen reader and magnifier tested with the holder"
    )
    at_form.get_by_role("button", name="Confirm AT works").click()
    page.wait_for_load_state("networkidle")
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text(
        "AT check confirmed: staff number N0012345's assistive technology works on MPS0004711."
    )
    expect(page.locator("[data-test=at-checks]")).to_contain_text(
        "confirmed working by ben.manager"
    )
    check_page(page)
    check = ATCheck.objects.get()
    assert check.confirmed_by.username == "ben.manager"
    device.refresh_from_db()
    assert device.status == Device.Status.DEPLOYED
    sign_out(page)

    # A unit viewer opens the same device: no actions, no purchase cost
    sign_in(page, live_server, "north.viewer")
    page.goto(f"{live_server.url}/devices/{device.pk}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("MPS0004711")
    expect(page.locator("[data-test=device-actions]")).to_have_count(0)
    expect(page.locator("main form")).to_have_count(0)
    expect(page.locator("[data-test=purchase-cost]")).to_have_count(0)
    body = page.locator("main").inner_text()
    assert "1,183.47" not in body and "1183.47" not in body
    expect(page.locator("[data-test=timeline]")).to_contain_text(
        "Deployed to staff number N0012345"
    )
    check_page(page)
