"""Journey: each role lands on its own page, and an asset manager works the device list
(issue 14: "each role lands on its own page"; the device list's total, sortable
columns, unit names and bulk actions), in a real browser.

An asset manager signs in and lands on the estate dashboard with their "For you"
list; opens Devices, sorts by last seen, selects two devices and sends them to repair
with a reason (a confirmation first, then a specific success banner). At 1280 px no
column of the list hides behind a horizontal scroll. A unit viewer signs in and sees
only their unit on the dashboard and in the list. Every page visited passes
``check_page`` ("home-asset-manager", "device-list").
"""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from accounts.services import user_create
from devices.models import Device, DeviceEvent
from tests.browser_support import PASSWORD, check_page, sign_in
from tests.factories import BusinessUnitFactory, DeviceFactory, DeviceModelFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SEEN = dt.datetime(2026, 10, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def estate(transactional_db):
    root = BusinessUnitFactory(code="MET", name="Metropolitan Police", level="directorate")
    north = BusinessUnitFactory(code="NORTH", name="North Area Command", parent=root)
    south = BusinessUnitFactory(code="SOUTH", name="South Area Command", parent=root)
    laptop = DeviceModelFactory(name="Latitude 5440", manufacturer__name="Dell")
    for n in range(6):
        DeviceFactory(
            asset_tag=f"MPN{n:05d}",
            business_unit=north,
            device_model=laptop,
            last_seen=SEEN - dt.timedelta(days=n * 3),
            location="Hendon, desk 4",
        )
    for n in range(4):
        DeviceFactory(asset_tag=f"MPS{n:05d}", business_unit=south, device_model=laptop)
    user_create(username="asset.manager", role="asset-manager", password=PASSWORD)
    user_create(username="north.lead", role="unit-viewer", password=PASSWORD, unit_codes=["NORTH"])
    return {"north": north, "south": south}


def table_fits(page) -> bool:
    """The device table is no wider than its wrapper (nothing behind a scroll)."""
    return page.locator(".app-table-wrapper").first.evaluate(
        "(el) => el.scrollWidth <= el.clientWidth"
    )


def test_an_asset_manager_lands_on_the_dashboard_and_sends_two_devices_to_repair(
    page, live_server, estate
):
    sign_in(page, live_server, "asset.manager")

    # The estate dashboard, with what waits for them
    expect(page.get_by_role("heading", level=1)).to_have_text("Estate dashboard")
    expect(page.locator('[data-test="headline-total"]')).to_contain_text("10")
    expect(page.locator('[data-test="for-you"]')).to_contain_text("swaps waiting for an action")
    check_page(page, "home-asset-manager")

    # Devices: a total, unit names, and sorted by last seen (newest first on a second click)
    page.get_by_role("link", name="Devices", exact=True).click()
    expect(page.locator('[data-test="total"]')).to_have_text("10 devices")
    page.get_by_role("link", name="Last seen").click()
    page.get_by_role("link", name="Last seen").click()
    expect(page.locator('[data-test="header-last_seen"]')).to_have_attribute(
        "aria-sort", "descending"
    )
    rows = page.locator('[data-test="device-row"]')
    expect(rows.first).to_contain_text("MPN00000")
    expect(rows.first).to_contain_text("North Area Command")
    assert table_fits(page), "a column of the device list hides behind a scroll at 1280 px"
    check_page(page, "device-list")

    # Two devices, sent to repair with a reason
    page.get_by_label("Select MPN00000").check()
    page.get_by_label("Select MPN00001").check()
    page.get_by_label("With the selected devices").select_option(label="Send to repair")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Send to repair: 2 devices")
    page.get_by_role("button", name="Send to repair").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter reason")
    check_page(page)
    page.get_by_label("Reason").fill("Keyboards fail after the water leak, INC-4411")
    page.get_by_role("button", name="Send to repair").click()

    expect(page.locator(".govuk-notification-banner--success")).to_contain_text(
        "2 devices sent to repair."
    )
    # Back on the list, still sorted by last seen
    expect(page.locator('[data-test="header-last_seen"]')).to_have_attribute(
        "aria-sort", "descending"
    )
    moved = Device.objects.filter(status=Device.Status.IN_REPAIR)
    assert sorted(moved.values_list("asset_tag", flat=True)) == ["MPN00000", "MPN00001"]
    assert {
        e.details["reason"]
        for e in DeviceEvent.objects.filter(kind=DeviceEvent.Kind.REPAIR_STARTED)
    } == {"Keyboards fail after the water leak, INC-4411"}


def test_a_unit_viewer_sees_only_their_unit(page, live_server, estate):
    sign_in(page, live_server, "north.lead")

    expect(page.locator('[data-test="scope"]')).to_contain_text("North Area Command")
    expect(page.locator('[data-test="estate-total"]')).to_have_text("6")
    expect(page.locator('[data-test="for-you"]')).not_to_contain_text("swaps")
    check_page(page)

    page.get_by_role("link", name="Devices", exact=True).click()
    expect(page.locator('[data-test="total"]')).to_have_text("6 devices")
    expect(page.locator('[data-test="device-table"]')).not_to_contain_text("South Area")
    expect(page.locator('[data-test="bulk-action"] option')).to_have_count(1)  # export only
    check_page(page)

    # Another unit's code in the address is refused, without saying whether it exists
    page.goto(f"{live_server.url}/devices/?business_unit=SOUTH")
    expect(page.locator(".govuk-error-summary")).to_contain_text(
        "Business unit SOUTH is not a unit you can see"
    )
    expect(page.locator("body")).not_to_contain_text("MPS00000")


def test_with_every_column_chosen_no_column_hides_at_1280_px(page, live_server, estate):
    sign_in(page, live_server, "asset.manager")
    page.goto(f"{live_server.url}/devices/")

    page.get_by_text("Choose columns").click()
    for box in page.locator("input[name=columns]").all():
        box.check()
    page.get_by_role("button", name="Show these columns").click()

    expect(page.locator('[data-test="header-os_version"]')).to_be_visible()
    assert table_fits(page), "with every column chosen, a column hides behind a scroll"
    check_page(page)
    # The choice is remembered for the session
    page.goto(f"{live_server.url}/devices/?sort=asset_tag")
    expect(page.locator('[data-test="header-location"]')).to_be_visible()
