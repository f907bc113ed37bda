"""A request that dies holding an ``Idempotency-Key`` releases it at once.

The claim is inserted in the request's own transaction (api/idempotency.py), so a
process killed mid-request leaves no claim: PostgreSQL rolls the transaction back
when the connection drops. A retry seconds later runs the bulk exactly once, where
the previous design answered ``409 idempotency_in_progress`` for ten minutes.

Real processes on PostgreSQL (a subprocess runs the view and is ``kill -9``ed).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection
from rest_framework.test import APIClient

from api import idempotency
from api.models import IdempotencyRecord
from devices.models import Device

BULK = "/api/v1/devices/bulk/"
ROOT = Path(__file__).resolve().parents[2]
ITEMS = 40


def _database_url() -> str:
    db = connection.settings_dict
    auth = quote(db["USER"] or "postgres")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    return (
        f"postgres://{auth}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
    )


def _body() -> list[dict]:
    return [
        {
            "serial_number": f"KILLED-{n:03d}",
            "manufacturer": "Dell",
            "model": "Latitude 5440",
            "category": "laptop",
            "business_unit": "NORTH-A",
        }
        for n in range(ITEMS)
    ]


def _start_dying_request(tmp_path: Path, user, key: str) -> subprocess.Popen:
    body_path = tmp_path / "body.json"
    body_path.write_text(json.dumps(_body()))
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    env.pop("PYTEST_CURRENT_TEST", None)
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "tests.api.killed_request", str(user.pk), key, str(body_path)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    output = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        output.append(line)
        if line.strip() == "WRITTEN":
            return process
    process.kill()
    raise AssertionError("the request never reached its writes:\n" + "".join(output[-40:]))


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.postgres
def test_a_killed_requests_key_is_free_at_once_and_the_retry_writes_exactly_once(
    transactional_db, estate, integration, tmp_path
):
    key = "bulk-killed-mid-request"
    # Given a bulk request that has written its devices and not yet committed
    dying = _start_dying_request(tmp_path, integration, key)
    api = _client(integration)
    try:
        # When a duplicate arrives while it really runs, it waits for the lock, then 409
        started = time.monotonic()
        duplicate = api.post(BULK, _body(), format="json", headers={"Idempotency-Key": key})
        waited = time.monotonic() - started
        assert duplicate.status_code == 409, duplicate.content
        assert duplicate.json()["error"]["code"] == "idempotency_in_progress"
        assert idempotency.LOCK_WAIT - 0.5 <= waited < idempotency.LOCK_WAIT + 3
        assert not Device.objects.filter(serial_number__startswith="KILLED-").exists()

        # When the process dies as a gunicorn worker would (kill -9)
        os.killpg(dying.pid, signal.SIGKILL)
        dying.wait(timeout=10)
    finally:
        if dying.poll() is None:
            os.killpg(dying.pid, signal.SIGKILL)
            dying.wait(timeout=10)
    killed_at = time.monotonic()

    # Then a retry with the same key runs within seconds (not STALE_CLAIM_AFTER)
    while True:
        retry = api.post(BULK, _body(), format="json", headers={"Idempotency-Key": key})
        if retry.status_code != 409 or time.monotonic() - killed_at > 10:
            break
        time.sleep(0.2)
    assert retry.status_code == 200, retry.content
    assert time.monotonic() - killed_at < 10
    assert retry.json()["counts"]["created"] == ITEMS
    assert "Idempotent-Replayed" not in retry.headers
    # And the devices exist exactly once; the key now replays the stored answer
    assert Device.objects.filter(serial_number__startswith="KILLED-").count() == ITEMS
    record = IdempotencyRecord.objects.get(key=key)
    assert record.state == IdempotencyRecord.State.COMPLETED
    replay = api.post(BULK, _body(), format="json", headers={"Idempotency-Key": key})
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == retry.json()
    assert Device.objects.filter(serial_number__startswith="KILLED-").count() == ITEMS


@pytest.mark.django_db
def test_a_handler_that_crashes_leaves_no_claim_and_the_retry_runs(
    estate, integration, monkeypatch
):
    from devices.api import bulk

    real_upsert = bulk.bulk_upsert
    calls = []

    def crash_after_writing(**kwargs):
        outcome = real_upsert(**kwargs)
        if not calls:
            calls.append(1)
            raise RuntimeError("the worker fell over after writing")
        return outcome

    monkeypatch.setattr(bulk, "bulk_upsert", crash_after_writing)
    api = _client(integration)
    api.raise_request_exception = False
    key = {"Idempotency-Key": "crashes-once"}

    first = api.post(BULK, _body(), format="json", headers=key)
    retry = api.post(BULK, _body(), format="json", headers=key)

    assert first.status_code == 500
    assert retry.status_code == 200
    # the first attempt's writes went with its claim: the retry created every device
    assert retry.json()["counts"]["created"] == ITEMS
    assert Device.objects.filter(serial_number__startswith="KILLED-").count() == ITEMS
    assert IdempotencyRecord.objects.get(key="crashes-once").state == "completed"
