"""The production-shaped stack, tried as ``make stack`` runs it (ops/stack.py: gunicorn
with gunicorn.conf.py and DEBUG off, a Celery worker and beat; RabbitMQ as broker,
Redis as cache) against the test database:

- smoke: sign in through the login form over HTTP, upload an import and see the real
  worker finish it, request a stewardship report run and see it succeed;
- fault: the gunicorn worker handling ``POST /api/v1/devices/bulk/`` with an
  ``Idempotency-Key`` is killed with ``kill -9`` mid-request; the retry with the
  same key succeeds within seconds and the devices exist exactly once.

PostgreSQL, RabbitMQ (or the fault tests' broker) and Redis; skipped with the reason
if the broker or Redis is unreachable. Each test is bounded (about 20-40 s here).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import signal
import threading
import time
import uuid

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password
from django.db import connection

from accounts.roles import Role
from api.services import api_token_create
from devices.models import Device, ImportRun
from ops.stack import DEFAULT_REDIS_URL, Stack, loopback_cookie_jar
from reports.models import ReportRun
from tests.factories import BusinessUnitFactory, DeviceFactory, UserFactory
from tests.reliability.conftest import (
    RELIABILITY_ENV,
    database_url_for,
    free_port,
    reachable,
    wait_until,
)

pytestmark = pytest.mark.postgres

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
PASSWORD = "stack-smoke-test-password-0123"  # noqa: S105 - a test user's


@pytest.fixture
def redis_url():
    url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    if not reachable(url):
        pytest.skip(f"the stack needs Redis as its cache: {url} is unreachable")
    return url


@pytest.fixture
def make_stack(transactional_db, broker, redis_url, tmp_path):
    """Start the stack's processes (as ``make stack`` does) on the test database, a
    queue of the test's own and a free port; stopped after the test."""
    started: list[Stack] = []
    app_name = f"stack-{uuid.uuid4().hex[:8]}"

    def start(**extra_env: str) -> Stack:
        stack = Stack(
            state_dir=tmp_path / "stack",
            database_url=database_url_for(app_name),
            broker_url=broker,
            redis_url=redis_url,
            port=free_port(),
            queue=f"stack-test-{uuid.uuid4().hex[:10]}",
            extra_env={**RELIABILITY_ENV, **extra_env},
        )
        stack.app_name = app_name
        started.append(stack)
        stack.start(timeout=60)
        return stack

    yield start
    for stack in started:
        stack.stop(grace=10)
        try:
            from kombu import Connection

            with Connection(broker) as conn:
                conn.default_channel.queue_delete(stack.queue)
        except Exception:  # noqa: BLE001,S110 - a broker already gone has nothing to delete
            pass


def _session():
    import requests

    session = requests.Session()
    session.cookies = loopback_cookie_jar()
    return session


def _csrf(session, url: str) -> str:
    page = session.get(url, timeout=30)
    assert page.status_code == 200, (url, page.status_code)
    return CSRF_INPUT.search(page.text).group(1)


def _sign_in(session, stack: Stack, username: str) -> None:
    token = _csrf(session, f"{stack.base_url}/login/")
    response = session.post(
        f"{stack.base_url}/login/",
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 302, response.text[:500]
    home = session.get(f"{stack.base_url}/", timeout=30)
    assert home.status_code == 200 and username in home.text


def _user(role: Role, username: str, units=()):
    # Hashed as the stack's settings hash (the test process uses a faster hasher).
    user = UserFactory(role=role, username=username, units=units)
    user.password = make_password(PASSWORD, hasher=PBKDF2PasswordHasher())
    user.save(update_fields=["password"])
    return user


def test_stack_smoke_sign_in_import_and_report_through_the_real_worker(make_stack):
    # Given an estate, an asset manager and the stack running
    unit = BusinessUnitFactory(code="CE")
    DeviceFactory.create_batch(3, business_unit=unit)
    _user(Role.ASSET_MANAGER, "smoke.manager")
    started = time.monotonic()
    stack = make_stack()
    session = _session()

    # When they sign in through the login form
    _sign_in(session, stack, "smoke.manager")

    # And upload an import
    rows = io.StringIO()
    writer = csv.writer(rows)
    writer.writerow(["serial_number", "manufacturer", "model", "category", "business_unit"])
    for n in range(5):
        writer.writerow([f"SMOKE-{n}", "Dell", "Latitude 5440", "laptop", "CE"])
    upload = session.post(
        f"{stack.base_url}/devices/import/",
        data={
            "csrfmiddlewaretoken": _csrf(session, f"{stack.base_url}/devices/import/"),
            "mode": "valid-rows",
            "mapping": "default",
        },
        files={"file": ("smoke.csv", rows.getvalue().encode(), "text/csv")},
        allow_redirects=False,
        timeout=30,
    )
    assert upload.status_code == 302, upload.text[:500]
    run = ImportRun.objects.get()

    # Then the real worker finishes it
    wait_until(
        lambda: ImportRun.objects.get(pk=run.pk).status not in {"queued", "running"},
        timeout=30,
        message=stack.tail("worker"),
    )
    assert ImportRun.objects.get(pk=run.pk).status == "succeeded", stack.tail("worker")
    assert Device.objects.filter(serial_number__startswith="SMOKE-").count() == 5
    page = session.get(f"{stack.base_url}{upload.headers['Location']}", timeout=30)
    assert page.status_code == 200 and 'data-test="import-summary"' in page.text

    # When they request a stewardship report run for last month
    period = (dt.date.today().replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")  # noqa: DTZ011
    requested = session.post(
        f"{stack.base_url}/reports/generate/",
        data={
            "csrfmiddlewaretoken": _csrf(session, f"{stack.base_url}/reports/"),
            "kind": "stewardship",
            "unit": unit.pk,
            "period": period,
        },
        allow_redirects=False,
        timeout=30,
    )
    assert requested.status_code == 302, requested.text[:1000]

    # Then the real worker builds it
    report = ReportRun.objects.get()
    wait_until(
        lambda: ReportRun.objects.get(pk=report.pk).status not in {"queued", "running"},
        timeout=40,
        message=stack.tail("worker"),
    )
    assert ReportRun.objects.get(pk=report.pk).status == "succeeded", stack.tail("worker")
    detail = session.get(f"{stack.base_url}{requested.headers['Location']}", timeout=30)
    assert detail.status_code == 200
    assert time.monotonic() - started < 90


def _bulk_body(count: int) -> list[dict]:
    return [
        {
            "serial_number": f"KILL9-{n:05d}",
            "manufacturer": "Dell",
            "model": "Latitude 5440",
            "category": "laptop",
            "business_unit": "CE",
            "location": "Hendon",
        }
        for n in range(count)
    ]


def _open_transaction_seconds(app_name: str) -> float:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(max(extract(epoch FROM now() - xact_start)), 0) "
            "FROM pg_stat_activity WHERE application_name = %s AND xact_start IS NOT NULL",
            [app_name],
        )
        return float(cursor.fetchone()[0])


def test_gunicorn_worker_killed_mid_bulk_the_retry_succeeds_and_devices_exist_once(
    make_stack, settings
):
    import requests

    # Given one gunicorn worker (so the one handling the bulk is known) and a token
    BusinessUnitFactory(code="CE")
    integration = UserFactory(role=Role.INTEGRATION, username="kill9.integration")
    _token, key = api_token_create(user=integration)
    count = settings.API_BULK_MAX_ITEMS
    body = _bulk_body(count)
    stack = make_stack(GUNICORN_WORKERS="1", GUNICORN_THREADS="2")
    url = f"{stack.base_url}/api/v1/devices/bulk/"
    headers = {"Authorization": f"Token {key}", "Idempotency-Key": "bulk-kill-9"}
    (worker_pid,) = stack.children("web")
    first: dict = {}

    def send():
        try:
            first["response"] = requests.post(url, json=body, headers=headers, timeout=60)
        except requests.RequestException as exc:
            first["error"] = exc

    sender = threading.Thread(target=send)
    sender.start()
    # When the bulk has held its transaction open for a moment (it is writing), its
    # worker is killed with kill -9
    wait_until(
        lambda: _open_transaction_seconds(stack.app_name) > 0.3 or "response" in first,
        timeout=30,
        interval=0.05,
        message="the bulk never started",
    )
    os.kill(worker_pid, signal.SIGKILL)
    sender.join(timeout=30)
    assert "response" not in first, "the bulk finished before its worker was killed"
    killed_at = time.monotonic()
    # Its backend finds the client gone and ends the transaction: rolled back (the
    # claim with the writes), or committed when the kill landed just as the worker
    # had sent COMMIT (the client never heard, so it retries all the same)
    wait_until(
        lambda: _open_transaction_seconds(stack.app_name) == 0,
        timeout=30,
        interval=0.1,
        message="the killed bulk's transaction never ended",
    )
    committed = Device.objects.filter(serial_number__startswith="KILL9-").exists()

    # Then a retry with the same key (gunicorn starts a new worker) runs the bulk once
    retry = None
    while time.monotonic() - killed_at < 30:
        try:
            retry = requests.post(url, json=body, headers=headers, timeout=60)
        except requests.ConnectionError:
            time.sleep(0.5)  # the replacement worker is still starting
            continue
        if retry.status_code != 409:
            break
        time.sleep(0.5)
    assert retry is not None and retry.status_code == 200, (
        retry.text[:500] if retry is not None else stack.tail("web")
    )
    if committed:
        # The first run's answer was stored with its writes: the retry replays it
        assert retry.headers.get("Idempotent-Replayed") == "true"
    else:
        # The claim rolled back with the writes: the retry runs the bulk
        assert "Idempotent-Replayed" not in retry.headers
    assert retry.json()["counts"]["created"] == count
    assert Device.objects.filter(serial_number__startswith="KILL9-").count() == count
    assert stack.children("web") != [worker_pid]
    # And a further retry replays the stored answer without writing again
    again = requests.post(url, json=body, headers=headers, timeout=60)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert Device.objects.filter(serial_number__startswith="KILL9-").count() == count
