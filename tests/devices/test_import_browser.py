"""The import pages in a real browser: an asset manager uploads through the
form and lands on an accessible summary; a running import's page polls its
progress every second and turns into the summary when the run finishes."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from accounts.services import user_create
from devices.models import Device, ImportRun
from tests.devices.import_files import device_row, text_file
from tests.factories import BusinessUnitFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


PASSWORD = "Correct-Horse-Battery-42"


@pytest.fixture
def manager(transactional_db):
    BusinessUnitFactory(code="CE")
    return user_create(username="manager", role="asset-manager", password=PASSWORD)


def sign_in(page, live_server):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "manager")
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")


def assert_no_axe_violations(page):
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def test_upload_through_the_form_lands_on_an_accessible_summary(
    page, live_server, manager, tmp_path
):
    # Given a file with two good rows and one bad one
    path = text_file(
        tmp_path / "estate.csv",
        [
            device_row(serial_number="A"),
            device_row(serial_number="B"),
            device_row(serial_number="C", purchase_date="01/13/2024"),
        ],
    )
    sign_in(page, live_server)
    # When the asset manager uploads it from the import page
    page.goto(f"{live_server.url}/devices/import/")
    assert_no_axe_violations(page)
    page.set_input_files("#id_file", str(path))
    page.get_by_role("button", name="Import").click()
    page.wait_for_load_state("networkidle")
    # Then the run's page shows the summary once the background import has finished
    # (its progress panel polls), with the error and the report link
    expect(page.locator("[data-test=import-summary]")).to_be_visible(timeout=20_000)
    assert page.locator("[data-count=created]").inner_text() == "2"
    assert page.locator("[data-count=rejected]").inner_text() == "1"
    assert "US month/day/year" in page.locator("[data-test=import-errors]").inner_text()
    assert page.get_by_role("link", name="Download the full error report (CSV)").is_visible()
    assert page.locator("h1").count() == 1
    assert_no_axe_violations(page)
    assert Device.objects.count() == 2


def test_a_running_import_shows_live_progress_then_its_summary(page, live_server, manager):
    # Given an import half way through
    run = ImportRun.objects.create(
        created_by=manager,
        file_name="big.csv",
        sha256="0" * 64,
        status=ImportRun.Status.RUNNING,
        rows_total=40_000,
        rows_processed=20_000,
    )
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/devices/import/{run.pk}/")
    # Then its page shows the percentage as text, for everyone
    percent = page.locator("[data-test=import-percent]")
    assert "50%" in percent.inner_text()
    assert_no_axe_violations(page)
    # When the worker moves on, the page follows within a second or two
    ImportRun.objects.filter(pk=run.pk).update(rows_processed=30_000)
    # A locator wait, not wait_for_function: the page's Content-Security-Policy
    # (no 'unsafe-eval') refuses the string Playwright would evaluate in the page.
    expect(page.locator("[data-test=import-percent]")).to_contain_text("75%")
    # And when it finishes, the polling stops on the summary
    ImportRun.objects.filter(pk=run.pk).update(
        status=ImportRun.Status.SUCCEEDED, rows_processed=40_000, created_count=40_000
    )
    page.locator("[data-test=import-summary]").wait_for()
    assert page.locator("[data-count=created]").inner_text() == "40,000"
