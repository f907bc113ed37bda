"""The browser fixtures (``browser``, ``page``, ``screenshot``) live in
tests/browser_support.py, loaded for the whole suite by tests/conftest.py, so that
every app's browser tests share one Playwright instance."""

from tests.browser_support import CHROMIUM, CHROMIUM_ARGS  # noqa: F401  (re-exported for tests)
