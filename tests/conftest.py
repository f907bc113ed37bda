"""Test settings live here, in one place.

The suite runs on whatever DATABASE_URL says (SQLite by default, PostgreSQL in
CI). Celery runs eagerly except in tests marked ``celery_worker``, which start a
real worker against REDIS_URL.
"""

import pytest
from django.conf import settings
from django.core.cache import cache

from accounts.roles import Role

pytest_plugins = ["tests.browser_support"]


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.AXES_ENABLED = False
    # Per-process cache: clearing it between tests must never flush a shared Redis.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    from config.celery import app

    app.conf.task_always_eager = True
    cache.clear()
    yield
    cache.clear()


def pytest_collection_modifyitems(config, items):
    is_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    skip_redis = pytest.mark.skip(reason="needs Redis (set REDIS_URL)")
    for item in items:
        if "postgres" in item.keywords and not is_postgres:
            item.add_marker(skip_pg)
        if "celery_worker" in item.keywords and not settings.REDIS_URL:
            item.add_marker(skip_redis)


@pytest.fixture
def make_user(db):
    """Build a user holding ``role`` and scoped to ``units`` (BusinessUnit objects)."""
    from tests.factories import UserFactory

    def _make(role: Role | None = None, units=(), **kwargs):
        return UserFactory(role=role, units=units, **kwargs)

    return _make


@pytest.fixture
def asset_manager(make_user):
    return make_user(Role.ASSET_MANAGER)


@pytest.fixture
def finance_officer(make_user):
    return make_user(Role.FINANCE)
