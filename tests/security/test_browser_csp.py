"""In a real browser, under the production Content-Security-Policy: the pages' own
scripts (GOV.UK Frontend, MOJ Frontend, htmx, Chart.js, Swagger UI) run, and the
browser reports no violation. Signing in over the live server also proves the Secure
session and CSRF cookies work on http://localhost, as the browser suite needs."""

import pytest

from accounts.services import user_create
from tests.factories import BusinessUnitFactory, DeviceFactory

pytestmark = pytest.mark.browser
PASSWORD = "Correct-Horse-Battery-42"


@pytest.fixture
def manager(transactional_db):
    unit = BusinessUnitFactory(code="NORTH", name="North Area")
    DeviceFactory.create_batch(3, business_unit=unit)
    return user_create(username="manager", role="asset-manager", password=PASSWORD)


def test_pages_and_api_docs_run_under_the_csp_without_violations(page, live_server, manager):
    violations = []
    page.on(
        "console",
        lambda msg: (
            violations.append(msg.text)
            if "Content Security Policy" in msg.text or "Refused to" in msg.text
            else None
        ),
    )
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "manager")
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")
    assert page.url.rstrip("/") == live_server.url  # signed in: the cookies were kept

    # GOV.UK Frontend's inline js-enabled script ran (it carries the nonce).
    assert "js-enabled" in page.evaluate("document.body.className")
    # Chart.js drew the dashboard chart from static files.
    page.wait_for_selector("canvas")

    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .info", timeout=20_000)

    assert violations == []
