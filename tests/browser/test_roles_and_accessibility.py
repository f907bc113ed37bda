"""The real thing, in a browser: each role signs in through the login form, sees the
dashboard for its own scope, signs out; integration accounts cannot sign in; and
every main page passes an axe-core accessibility check with no violations."""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from accounts.services import user_create
from devices.models import Category, Device
from tests.browser_support import check_page
from tests.factories import BusinessUnitFactory, DeviceFactory, DeviceModelFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Correct-Horse-Battery-42"


@pytest.fixture
def estate(transactional_db):
    """Two units: North holds 5 devices, South 4 (9 in all)."""
    root = BusinessUnitFactory(code="MET", name="Metropolitan", level="directorate")
    north = BusinessUnitFactory(code="NORTH", name="North Area", parent=root, level="command")
    south = BusinessUnitFactory(code="SOUTH", name="South Area", parent=root, level="command")
    phone = DeviceModelFactory(name="Galaxy XCover", category=Category.SMARTPHONE)
    DeviceFactory.create_batch(3, business_unit=north)
    DeviceFactory.create_batch(2, business_unit=north, device_model=phone)
    DeviceFactory.create_batch(3, business_unit=south, status=Device.Status.IN_REPAIR)
    DeviceFactory(business_unit=south, device_model=phone)
    return {"north": north, "south": south}


@pytest.fixture
def accounts(estate):
    """One account per role, made the way operators make them."""
    return {
        "manager": user_create(username="manager", role="asset-manager", password=PASSWORD),
        "finance": user_create(username="finance", role="finance", password=PASSWORD),
        "commercial": user_create(username="commercial", role="commercial", password=PASSWORD),
        "viewer": user_create(
            username="viewer", role="unit-viewer", password=PASSWORD, unit_codes=["NORTH"]
        ),
        "integration": user_create(username="mdm-feed", role="integration", password=None),
    }


def sign_in(page, live_server, username, password=PASSWORD):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")


def sign_out(page, live_server):
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login/"))


def dashboard_total(page) -> int:
    return int(page.locator("[data-test=estate-total]").inner_text().replace(",", ""))


def assert_no_axe_violations(page):
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


@pytest.mark.parametrize(
    ("username", "expected_total", "scope_text"),
    [
        ("manager", 9, "all units"),
        ("finance", None, None),
        ("commercial", None, None),
        ("viewer", 5, "North Area"),
    ],
)
def test_each_role_signs_in_and_sees_the_dashboard_for_its_scope(
    page, live_server, accounts, username, expected_total, scope_text
):
    # Given an account for the role, when it signs in through the form
    sign_in(page, live_server, username)

    # Then it lands on its own page: the estate dashboard showing its own scope's
    # counts, or (finance and commercial officers) the capital envelope
    assert page.url.rstrip("/") == live_server.url
    if expected_total is None:
        assert page.locator("h1").inner_text() == "Capital envelope"
        assert page.locator("[data-test=for-you]").is_visible()
    else:
        assert page.locator("h1").inner_text() == "Estate dashboard"
        assert scope_text in page.locator("[data-test=scope]").inner_text()
        assert dashboard_total(page) == expected_total
        assert page.locator("[data-test=headline-total] .app-card__value").inner_text() == str(
            expected_total
        )
    assert page.locator("[data-test=username]").inner_text() == username
    assert_no_axe_violations(page)

    # And it can sign out
    sign_out(page, live_server)
    assert page.locator("h1").inner_text() == "Sign in"


def test_a_scoped_viewer_never_sees_another_units_numbers(page, live_server, accounts):
    sign_in(page, live_server, "viewer")

    table = page.locator("[data-test=estate-table]").inner_text()

    # North has 3 laptops in stock and 2 smartphones in stock; South's 3 in repair are absent.
    assert dashboard_total(page) == 5
    assert "South Area" not in page.content()
    in_repair = page.locator("[data-test=headline-in_repair] .app-card__value").inner_text()
    assert in_repair == "0"
    assert "Smartphone" in table


def test_an_integration_account_cannot_sign_in(page, live_server, accounts):
    # Integration accounts have no password: whatever is typed, the form refuses.
    for attempt in ("", PASSWORD, "anything"):
        sign_in(page, live_server, "mdm-feed", attempt)
        assert "/login/" in page.url
        assert page.locator(".govuk-error-summary").is_visible()
    assert page.locator("[data-test=account]").count() == 0


def test_a_wrong_password_shows_the_error_summary_and_stays_accessible(page, live_server, accounts):
    sign_in(page, live_server, "manager", "not-the-password")

    summary = page.locator(".govuk-error-summary")
    assert summary.is_visible()
    assert "correct username and password" in summary.inner_text()
    assert page.title().startswith("Error:")
    assert_no_axe_violations(page)


def test_login_page_is_accessible_and_styled_with_the_arial_fallback(
    page, live_server, accounts, screenshot
):
    page.goto(f"{live_server.url}/login/")

    # The stylesheets really load from the live server: GOV.UK styles apply...
    header_colour = page.eval_on_selector(
        ".govuk-header", "el => getComputedStyle(el).backgroundColor"
    )
    assert header_colour == "rgb(29, 112, 184)"  # GOV.UK brand blue, #1d70b8
    button_colour = page.eval_on_selector(
        "button.govuk-button", "el => getComputedStyle(el).backgroundColor"
    )
    assert button_colour != "rgb(239, 239, 239)"  # not the browser's unstyled grey
    # ...and every component uses Arial, never the GOV.UK-only GDS Transport font.
    font = page.eval_on_selector("h1", "el => getComputedStyle(el).fontFamily")
    assert font.lower().startswith("arial")
    assert_no_axe_violations(page)
    screenshot("login")


def test_dashboard_draws_the_chart_beside_its_table(page, live_server, accounts, screenshot):
    sign_in(page, live_server, "manager")

    # Chart.js marks the canvas it draws on; a locator wait needs no 'unsafe-eval',
    # which the page's Content-Security-Policy refuses.
    page.locator("#estate-chart").wait_for()
    datasets = None
    for _ in range(50):
        datasets = page.evaluate(
            "() => window.Chart && Chart.getChart('estate-chart')?.data.datasets.length"
        )
        if datasets:
            break
        page.wait_for_timeout(100)
    assert datasets == len(Device.Status.choices)
    screenshot("dashboard")


def test_device_list_and_detail_are_accessible(page, live_server, accounts, estate, screenshot):
    sign_in(page, live_server, "finance")

    # The list: search by the start of an asset tag, then open a device
    page.goto(f"{live_server.url}/devices/")
    assert page.locator("[data-test=device-table] tbody tr").count() == 9
    assert_no_axe_violations(page)
    screenshot("device-list")

    page.select_option("#id_business_unit", "SOUTH")
    page.select_option("#id_status", "in_repair")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("[data-test=device-table] tbody tr").count() == 3
    assert_no_axe_violations(page)

    page.locator("[data-test=device-table] tbody tr a").first.click()
    page.wait_for_load_state("networkidle")
    assert page.locator("[data-test=device-summary]").is_visible()
    # Finance may see commercial figures, so the page carries the marking.
    assert "OFFICIAL-SENSITIVE [COMMERCIAL]" in page.locator("[data-classification]").inner_text()
    assert page.locator("[data-test=purchase-cost]").is_visible()
    assert_no_axe_violations(page)
    screenshot("device-detail")


def test_device_list_search_updates_the_results_while_typing(page, live_server, accounts, estate):
    wanted = Device.objects.filter(business_unit=estate["north"]).order_by("id").first()
    sign_in(page, live_server, "manager")
    page.goto(f"{live_server.url}/devices/")
    assert page.locator("[data-test=device-table] tbody tr").count() == 9

    # When an asset tag is typed (lower case), without pressing the button
    page.locator("#id_q").press_sequentially(wanted.asset_tag.lower(), delay=20)

    # Then htmx swaps in just that device, and the address bar keeps the search
    expect(page.locator("[data-test=device-table] tbody tr")).to_have_count(1)
    assert page.locator("[data-test=device-table] tbody tr a").inner_text() == wanted.asset_tag
    assert "q=" in page.url
    assert page.locator("#id_q").input_value() == wanted.asset_tag.lower()


def test_a_viewer_cannot_open_a_device_outside_their_unit(page, live_server, accounts, estate):
    outside = Device.objects.filter(business_unit=estate["south"]).first()
    sign_in(page, live_server, "viewer")

    response = page.goto(f"{live_server.url}/devices/{outside.pk}/")

    assert response.status == 404


@pytest.mark.parametrize("username", ["manager", "finance", "viewer"])
def test_every_page_in_the_navigation_loads_and_is_accessible(
    page, live_server, accounts, username
):
    # Given a signed-in user, when they follow each link in their navigation
    sign_in(page, live_server, username)
    links = page.eval_on_selector_all(
        ".moj-primary-navigation__link", "els => els.map(e => e.getAttribute('href'))"
    )
    assert "/devices/" in links

    for href in links:
        response = page.goto(f"{live_server.url}{href}")
        page.wait_for_load_state("networkidle")
        # Then each page answers, has exactly one h1, has no axe violations, and fits
        # a 390 px phone screen
        assert response.status == 200, href
        assert page.locator("h1").count() == 1, href
        check_page(page)
