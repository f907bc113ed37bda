"""Estate imports against a real Celery worker and broker, when things break: the
worker killed with ``kill -9`` mid-import, the database connection cut mid-import
(as a PostgreSQL restart does), and PostgreSQL itself stopped at once mid-import and
started again a few seconds later (a cluster of the test's own). The run never stays
``running``: it is taken over (or failed with the reason), whole batches only ever
land, its counts say what landed, and importing the file again converges to it.

PostgreSQL and a broker (see conftest); each test is bounded (about 20-60 s here).
"""

from __future__ import annotations

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import InterfaceError, OperationalError, connection

from devices.importing import services
from devices.models import Device, ImportRun
from devices.tasks import import_estate_task
from tests.devices.import_files import device_row, text_file
from tests.factories import BusinessUnitFactory
from tests.reliability.conftest import wait_until

pytestmark = pytest.mark.postgres

ROWS = 3000
BATCH = 500  # the worker's batch size (RELIABILITY_BATCH_SIZE); first and last are 100


@pytest.fixture
def estate_file(stack, tmp_path, asset_manager):
    BusinessUnitFactory(code="CE")
    rows = [device_row(serial_number=f"R{i:05d}") for i in range(ROWS)]
    path = text_file(tmp_path / "estate.csv", rows)

    def submit() -> ImportRun:
        upload = SimpleUploadedFile("estate.csv", path.read_bytes())
        run = services.import_run_create(file_name="estate.csv", upload=upload, actor=asset_manager)
        import_estate_task.delay(run.pk)
        return run

    return submit


def _batches(monkeypatch) -> list[range]:
    """The row ranges of the worker's batches (the pipelined import's sizes)."""
    monkeypatch.setattr(services, "BATCH_SIZE", BATCH)
    monkeypatch.setattr(services, "EDGE_BATCH_SIZE", BATCH // 5)
    ranges, start = [], 0
    for size in services._pipelined_batch_sizes(ROWS):
        if start >= ROWS:
            break
        ranges.append(range(start, min(ROWS, start + size)))
        start += size
    return ranges


def _landed() -> set[int]:
    serials = Device.objects.filter(serial_number__startswith="R").values_list(
        "serial_number", flat=True
    )
    return {int(serial[1:]) for serial in serials}


def _assert_whole_batches(landed: set[int], batches: list[range]) -> None:
    for batch in batches:
        inside = landed & set(batch)
        assert not inside or len(inside) == len(batch), f"part of batch {batch} landed"


def _assert_rerun_converges(submit) -> None:
    again = submit()
    wait_until(
        lambda: ImportRun.objects.get(pk=again.pk).finished, timeout=60, message="re-run stuck"
    )
    again.refresh_from_db()
    assert again.status == ImportRun.Status.SUCCEEDED, again.failure_message
    assert again.created_count + again.unchanged_count == ROWS
    assert again.rejected_count == 0
    assert _landed() == set(range(ROWS))


def test_an_import_whose_worker_is_killed_is_taken_over_and_converges(
    stack, estate_file, monkeypatch
):
    batches = _batches(monkeypatch)
    # Given a worker importing a 3,000-row file in batches of 500 (a second between)
    stack.worker("w1", RELIABILITY_BATCH_SIZE=str(BATCH), RELIABILITY_SLOW_BATCH="1")
    run = estate_file()
    wait_until(
        lambda: ImportRun.objects.get(pk=run.pk).rows_processed >= 600,
        timeout=45,
        message="the import never got going",
    )
    # When the worker is killed with kill -9 mid-import
    stack.processes[0].kill_group()
    landed = _landed()
    # Then whole batches only have landed
    assert 0 < len(landed) < ROWS
    _assert_whole_batches(landed, batches)
    assert ImportRun.objects.get(pk=run.pk).status == ImportRun.Status.RUNNING
    # And once a new worker and the reaper run, the run is taken over and finishes
    stack.worker("w2", RELIABILITY_BATCH_SIZE=str(BATCH))
    stack.beat()
    wait_until(
        lambda: ImportRun.objects.get(pk=run.pk).finished, timeout=60, message="import stuck"
    )
    run.refresh_from_db()
    assert run.status == ImportRun.Status.SUCCEEDED, run.failure_message
    assert run.attempts == 2
    # With the estate matching the file and the counts saying what landed
    assert _landed() == set(range(ROWS))
    assert (run.created_count, run.updated_count, run.unchanged_count, run.rejected_count) == (
        ROWS,
        0,
        0,
        0,
    )
    assert run.rows_processed == run.rows_total == ROWS
    assert any("took over" in warning for warning in run.warnings)
    # And importing the file again changes nothing
    _assert_rerun_converges(estate_file)


def test_an_import_whose_database_connection_is_cut_fails_with_the_reason_and_converges(
    stack, estate_file, monkeypatch
):
    batches = _batches(monkeypatch)
    stack.worker("w1", RELIABILITY_BATCH_SIZE=str(BATCH), RELIABILITY_SLOW_BATCH="1")
    run = estate_file()
    wait_until(
        lambda: ImportRun.objects.get(pk=run.pk).rows_processed >= 600,
        timeout=45,
        message="the import never got going",
    )
    # When PostgreSQL ends the worker's connections mid-import (as a restart does)
    assert stack.terminate_database_connections() >= 1
    # Then the run does not stay running: the failure is recorded on a new connection
    wait_until(
        lambda: ImportRun.objects.get(pk=run.pk).finished, timeout=45, message="import stuck"
    )
    run.refresh_from_db()
    assert run.status == ImportRun.Status.FAILED
    assert run.failure_message.startswith("The import stopped:")
    # Whole batches only, and the run counts every row that landed
    landed = _landed()
    _assert_whole_batches(landed, batches)
    assert run.created_count == len(landed)
    assert run.applied == bool(landed)
    # And importing the file again converges to it
    _assert_rerun_converges(estate_file)


def _status_while_away(run_pk: int) -> str | None:
    """The run's status, or None while the database refuses connections."""
    try:
        return ImportRun.objects.values_list("status", flat=True).get(pk=run_pk)
    except (OperationalError, InterfaceError):
        connection.close()
        return None


def test_an_import_through_a_postgresql_restart_ends_and_converges(
    stack, private_postgres, request, monkeypatch
):
    estate_file = request.getfixturevalue("estate_file")  # its rows on the private cluster
    batches = _batches(monkeypatch)
    # Given a worker importing a 3,000-row file in batches of 500 (a second between),
    # and beat running the reaper, all on a PostgreSQL cluster of the test's own
    stack.worker("w1", RELIABILITY_BATCH_SIZE=str(BATCH), RELIABILITY_SLOW_BATCH="1")
    stack.beat()
    run = estate_file()
    wait_until(
        lambda: ImportRun.objects.get(pk=run.pk).rows_processed >= 600,
        timeout=45,
        message="the import never got going",
    )
    # When PostgreSQL stops at once (no checkpoint, every client cut), refuses
    # connections for 3 s, and starts again (crash recovery first)
    connection.close()
    stopped = time.monotonic()
    private_postgres.stop("immediate")
    time.sleep(3)
    recovery = private_postgres.start()
    # Then the run ends (failed with the reason, or taken over and finished): it
    # never stays running or queued
    ended = {ImportRun.Status.SUCCEEDED, ImportRun.Status.FAILED}
    wait_until(
        lambda: _status_while_away(run.pk) in ended,
        timeout=60,
        message="import stuck running or queued after the restart",
    )
    run.refresh_from_db()
    print(
        f"\nPostgreSQL restart: setup {private_postgres.setup_seconds:.1f} s, away "
        f"{3 + recovery:.1f} s, run ended {time.monotonic() - stopped:.1f} s after the stop: "
        f"{run.status} after {run.attempts} attempt(s) {run.failure_message!r}"
    )
    if run.status == ImportRun.Status.FAILED:
        assert run.failure_message.startswith("The import stopped"), run.failure_message
    # Whole batches only, and the run counts every row that landed
    landed = _landed()
    _assert_whole_batches(landed, batches)
    assert run.created_count == len(landed)
    assert run.applied == bool(landed)
    if run.status == ImportRun.Status.SUCCEEDED:
        # Only a later attempt can have finished it: the first lost its connection
        assert run.attempts >= 2
        assert any("took over" in warning for warning in run.warnings)
        assert landed == set(range(ROWS))
        assert run.rejected_count == 0
    # And importing the file again converges to it
    _assert_rerun_converges(estate_file)
