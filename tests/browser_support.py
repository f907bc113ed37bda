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
