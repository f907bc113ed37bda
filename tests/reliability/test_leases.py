"""The lease machinery itself (core.leases): the heartbeat renews while work runs
and says when the row was lost; a failure is recorded on a fresh connection when
the one the work used is dead (PostgreSQL: its backend terminated)."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from django.db import DEFAULT_DB_ALIAS, OperationalError, connection, connections

from core import leases
from devices.importing import runs
from devices.models import ImportRun
from reports import services
from reports.models import ReportRun
from tests.factories import BusinessUnitFactory


def test_the_heartbeat_renews_until_the_work_ends():
    beats = []
    with leases.Heartbeat(lambda: beats.append(time.monotonic()) or True, interval=0.05):
        time.sleep(0.4)
    count = len(beats)
    time.sleep(0.2)
    assert count >= 4 and len(beats) == count  # renewed while working, never after


def test_the_heartbeat_stops_and_says_so_when_the_row_is_no_longer_ours():
    calls = []
    with leases.Heartbeat(lambda: calls.append(1) and False, interval=0.02) as heartbeat:
        time.sleep(0.2)
    assert heartbeat.lost and len(calls) == 1


@pytest.mark.django_db
def test_no_heartbeat_thread_inside_a_transaction():
    before = threading.active_count()
    with leases.Heartbeat(lambda: True, interval=0.01) as heartbeat:
        assert threading.active_count() == before
    assert heartbeat._thread is None


def _kill_own_connection() -> None:
    """End this thread's database connection from another one, as a restart would."""
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    other = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        other.close()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_report_failure_is_recorded_though_the_connection_died():
    unit = BusinessUnitFactory(code="F")
    run, _ = services.report_run_claim(kind="stewardship", unit=unit, period_start=_october())
    run = services.report_run_start(run_id=run.pk)
    _kill_own_connection()
    # The work's connection is dead: a plain write through it fails
    with pytest.raises(OperationalError):
        ReportRun.objects.filter(pk=run.pk).count()
    # Yet the failure is recorded, on a fresh connection
    assert services.report_run_fail(run=run, error=OperationalError("server closed the connection"))
    run.refresh_from_db()
    assert run.status == ReportRun.Status.FAILED and "server closed" in run.error


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_import_failure_is_recorded_though_the_connection_died(asset_manager):
    run = ImportRun.objects.create(file_name="x.csv", sha256="0" * 64, created_by=asset_manager)
    run = runs.import_run_reserve(run_id=run.pk)
    ImportRun.objects.filter(pk=run.pk).update(status=ImportRun.Status.RUNNING)
    run.refresh_from_db()
    _kill_own_connection()
    with pytest.raises(OperationalError):
        ImportRun.objects.filter(pk=run.pk).count()
    runs.import_run_finish(run, status=ImportRun.Status.FAILED, failure="The import stopped: x")
    run.refresh_from_db()
    assert (run.status, run.failure_message) == (ImportRun.Status.FAILED, "The import stopped: x")


def _october():
    return dt.date(2026, 10, 1)


@pytest.mark.django_db(transaction=True)
def test_a_report_built_for_longer_than_its_lease_keeps_it(settings, monkeypatch):
    # Given a lease of one second and a build that takes three
    settings.RUN_LEASE_SECONDS = 1
    unit = BusinessUnitFactory(code="L")
    run, _ = services.report_run_claim(kind="stewardship", unit=unit, period_start=_october())
    real_build = services.stewardship_report_build
    leases_seen = []

    def slow(*, run):
        for _ in range(6):
            time.sleep(0.5)
            leases_seen.append(ReportRun.objects.get(pk=run.pk).lease_expires_at)
        return real_build(run=run)

    monkeypatch.setattr(services, "stewardship_report_build", slow)
    done = services.report_run_execute(run_id=run.pk, notify=False)
    # Then the heartbeat renewed the lease all along and nothing took the run over
    assert done.status == ReportRun.Status.SUCCEEDED and done.attempts == 1
    assert leases_seen[-1] > leases_seen[0] + dt.timedelta(seconds=1.5)
