"""Browser fixtures shared by every app's browser tests: Playwright (sync API)
driving Debian's headless Chromium against pytest-django's live server.

One Playwright instance and one browser for the whole session: Playwright's sync
API refuses a second instance while the first is running, so no test module may
start its own. Nothing downloads a browser: CI installs Debian's ``chromium``;
without /usr/bin/chromium the browser tests are skipped.
"""

import os
import tempfile
from pathlib import Path

import pytest

# Playwright's sync API keeps an asyncio loop in the main thread; Django's ORM
# refuses synchronous queries from such a thread unless told this is intended.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def pytest_collection_modifyitems(config, items):
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(
        reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)"
    )
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def screenshot(page):
    """Save a full-page screenshot for a human to look at (BROWSER_SCREENSHOTS, default the temp dir)."""
    folder = Path(os.environ.get("BROWSER_SCREENSHOTS", tempfile.gettempdir()))

    def _take(name: str) -> Path:
        path = folder / f"browser-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return _take


# ---------------------------------------------------------------------------
# Journeys: what every page a journey visits must pass
# ---------------------------------------------------------------------------

PASSWORD = "Correct-Horse-Battery-42"
PHONE_WIDTH = 390
# Screenshots of the main pages, kept as artefacts (BROWSER_SCREENSHOTS) and, when
# SCREENSHOTS_FOR_README=1, written to docs/screenshots/ for the README.
README_SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


def sign_in(page, live_server, username, password=PASSWORD):
    """Sign in through the login form, as a person would."""
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")


def assert_no_axe_violations(page):
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def page_overflow(page) -> int:
    """How many CSS pixels the page is wider than its viewport (0 when it fits)."""
    return page.evaluate(
        "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
        " - window.innerWidth"
    )


def check_page(page, name: str | None = None):
    """Every page a journey visits: axe finds nothing, the page fits a 390 px phone
    (checked at that width, then the viewport is put back), and, when named, a
    full-page screenshot is saved (BROWSER_SCREENSHOTS, or docs/screenshots/ with
    SCREENSHOTS_FOR_README=1)."""
    assert_no_axe_violations(page)
    size = page.viewport_size
    page.set_viewport_size({"width": PHONE_WIDTH, "height": size["height"]})
    # Charts redraw for the new width on their resize handler: let them, as a phone
    # would never see the wide drawing.
    page.wait_for_timeout(400)
    try:
        overflow = page_overflow(page)
        assert overflow <= 0, f"{page.url} is {overflow}px wider than a {PHONE_WIDTH}px screen"
    finally:
        page.set_viewport_size(size)
    if name:
        folder = Path(os.environ.get("BROWSER_SCREENSHOTS", tempfile.gettempdir()))
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"journey-{name}.png"), full_page=True)
        if os.environ.get("SCREENSHOTS_FOR_README") == "1":
            README_SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(README_SHOTS / f"{name}.png"), full_page=False)
