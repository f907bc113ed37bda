"""Degrade, don't fail: Redis or PostgreSQL away is never a 500.

- Redis (the cache behind the API's rate limit) down: API requests are answered,
  the limit is counted in this process, and one warning is logged per period.
- PostgreSQL down (OperationalError / InterfaceError reaching the top): the API
  answers 503 in its JSON error shape and pages a plain 503 page, both with
  Retry-After. Simulated by a selector that raises, by a session that cannot be
  loaded, and for real by ending the test's own PostgreSQL connection.
"""

from __future__ import annotations

import logging
import socket

import pytest
from django.db import OperationalError, connection
from rest_framework.test import APIClient

from accounts.roles import Role
from api import throttling
from tests.api.conftest import SchemaCheckedClient
from tests.factories import BusinessUnitFactory, DeviceFactory

DEVICES = "/api/v1/devices/"


@pytest.fixture
def fresh_throttle_health():
    """The throttle's memory of a failed Redis is per process: start and end clean."""

    def reset():
        throttling.health.down_until = 0.0
        throttling.health.failures = 0
        throttling.health.local.clear()

    reset()
    yield throttling.health
    reset()


@pytest.fixture
def redis_down(settings, fresh_throttle_health):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    before = settings.CACHES
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    yield port
    # Back before tests/conftest.py clears the cache on its way out.
    settings.CACHES = before


@pytest.fixture
def unit_viewer(make_user):
    unit = BusinessUnitFactory(code="NORTH")
    DeviceFactory.create_batch(3, business_unit=unit)
    return make_user(Role.UNIT_VIEWER, units=[unit])


def _warnings(caplog) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if getattr(r, "event", "") == "api_throttle_cache_unavailable"
    ]


@pytest.mark.django_db
def test_redis_down_api_get_is_answered_and_one_warning_is_logged(redis_down, unit_viewer, caplog):
    api = SchemaCheckedClient(user=unit_viewer)
    caplog.set_level(logging.WARNING, logger="api.throttling")

    responses = [api.get(DEVICES) for _ in range(5)]

    assert [r.status_code for r in responses] == [200] * 5
    assert len(responses[0].json()["results"]) == 3
    warnings = _warnings(caplog)
    assert len(warnings) == 1, "one warning per period, not one per request"
    assert f"127.0.0.1:{redis_down}" in warnings[0].error or "Connection" in warnings[0].error
    assert warnings[0].fallback == "per-process limit"


@pytest.mark.django_db
def test_redis_down_the_rate_limit_still_holds_in_the_process(redis_down, unit_viewer, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"token": "3/min"},
    }
    api = SchemaCheckedClient(user=unit_viewer)

    statuses = [api.get(DEVICES).status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]


@pytest.mark.django_db
def test_redis_down_pages_keep_working(redis_down, unit_viewer, client):
    client.force_login(unit_viewer)

    assert client.get("/devices/").status_code == 200
    assert client.get("/").status_code == 200


@pytest.mark.django_db
def test_database_error_in_an_api_selector_is_503_json_with_retry_after(
    unit_viewer, monkeypatch, settings
):
    settings.DATABASE_UNAVAILABLE_RETRY_AFTER = 7
    api = SchemaCheckedClient(user=unit_viewer)  # checks the 503 against the schema

    def database_gone(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("devices.api.views.selectors.device_list", database_gone)

    response = api.get(DEVICES)

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "7"
    error = response.json()["error"]
    assert error["status"] == 503
    assert error["code"] == "database_unavailable"
    assert "Retry after 7 seconds" in error["message"]


@pytest.mark.django_db
def test_database_error_in_a_page_is_the_plain_503_page(unit_viewer, monkeypatch, client):
    client.force_login(unit_viewer)

    def database_gone(**kwargs):
        raise OperationalError("terminating connection due to administrator command")

    monkeypatch.setattr("devices.views.lists.selectors.device_search", database_gone)

    response = client.get("/devices/")

    assert response.status_code == 503
    assert response["Retry-After"] == "10"
    assert response["Content-Type"].startswith("text/html")
    assert "Sorry, the service is unavailable" in response.content.decode()


@pytest.mark.django_db
def test_database_error_loading_the_session_is_a_503_not_a_500(unit_viewer, monkeypatch):
    from django.contrib.sessions.backends.db import SessionStore

    client = APIClient()
    client.force_login(unit_viewer)
    client.raise_request_exception = False

    def database_gone(self):
        raise OperationalError("could not connect to server: Connection refused")

    monkeypatch.setattr(SessionStore, "load", database_gone)

    page = client.get("/devices/")
    api = client.get(DEVICES)

    assert page.status_code == 503
    assert "Sorry, the service is unavailable" in page.content.decode()
    assert api.status_code == 503
    assert api.json()["error"]["code"] == "database_unavailable"
    assert api["Retry-After"] == "10"


def _wsgi_get(path: str, token: str) -> int:
    """GET through Django's WSGI handler as gunicorn calls it: the request_started
    signal runs close_old_connections (the test client switches that off), so a
    broken connection is checked and replaced as it would be in production."""
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import RequestFactory

    environ = RequestFactory().get(path, HTTP_AUTHORIZATION=f"Token {token}").environ
    statuses = []

    def start_response(status, headers, exc_info=None):
        statuses.append(int(status.split()[0]))

    response = WSGIHandler()(environ, start_response)
    response.close()  # fires request_finished, as a WSGI server does
    return statuses[0]


@pytest.mark.postgres
def test_terminated_database_connection_is_503_or_reconnects_never_500(
    transactional_db, unit_viewer
):
    import psycopg

    from api.services import api_token_create

    _token, key = api_token_create(user=unit_viewer)
    assert _wsgi_get(DEVICES, key) == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    db = connection.settings_dict
    # A second connection ends the one the app holds, as a PostgreSQL restart would.
    with psycopg.connect(
        host=db.get("HOST") or "127.0.0.1",
        port=db.get("PORT") or 5432,
        user=db["USER"],
        password=db.get("PASSWORD") or None,
        dbname=db["NAME"],
        autocommit=True,
    ) as admin:
        terminated = admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]
    assert terminated

    statuses = [_wsgi_get(DEVICES, key), _wsgi_get("/devices/", key), _wsgi_get(DEVICES, key)]

    assert 500 not in statuses
    assert set(statuses) <= {200, 302, 503}
    assert statuses[-1] == 200, f"no reconnect after the connection was ended: {statuses}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid
