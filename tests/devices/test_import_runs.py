"""Import runs as the browser's Celery task runs them: claimed once, progress
recorded, eligibility recomputed after changes."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from devices.importing import runs, services
from devices.models import Device, ImportRun
from devices.signals import estate_changed
from devices.tasks import import_estate_task
from tests.devices.import_files import device_row, text_file
from tests.factories import BusinessUnitFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued_run(tmp_path, asset_manager):
    BusinessUnitFactory(code="CE")
    path = text_file(tmp_path / "e.csv", [device_row(serial_number=f"S{i}") for i in range(5)])
    upload = SimpleUploadedFile("e.csv", path.read_bytes())
    return services.import_run_create(file_name="e.csv", upload=upload, actor=asset_manager)


def test_the_task_runs_a_queued_import_once_even_if_delivered_twice(queued_run):
    assert import_estate_task(queued_run.pk) == ImportRun.Status.SUCCEEDED
    assert import_estate_task(queued_run.pk) == ImportRun.Status.SUCCEEDED
    queued_run.refresh_from_db()
    assert queued_run.created_count == 5
    assert Device.objects.count() == 5


def test_progress_is_recorded_batch_by_batch(queued_run, monkeypatch):
    monkeypatch.setattr(services, "BATCH_SIZE", 2)
    seen = []
    real = runs.RunProgress.update

    def spy(self, **fields):
        seen.append(fields["rows_processed"])
        real(self, **fields)

    monkeypatch.setattr(runs.RunProgress, "update", spy)
    import_estate_task(queued_run.pk)
    assert seen == [2, 4, 5]
    queued_run.refresh_from_db()
    assert (queued_run.rows_processed, queued_run.rows_total, queued_run.percent) == (5, 5, 100)


def test_an_import_that_changed_devices_announces_it_after_the_commit(
    queued_run, django_capture_on_commit_callbacks
):
    calls = []

    def receiver(**kwargs):
        calls.append({"trigger": kwargs["trigger"], "actor_id": kwargs["actor_id"]})

    estate_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            import_estate_task(queued_run.pk)
    finally:
        estate_changed.disconnect(receiver)
    assert calls == [{"trigger": "import", "actor_id": queued_run.created_by_id}]


def test_a_dry_run_announces_nothing(tmp_path, asset_manager, django_capture_on_commit_callbacks):
    BusinessUnitFactory(code="CE")
    calls = []

    def receiver(**kwargs):
        calls.append(kwargs)

    estate_changed.connect(receiver)
    path = text_file(tmp_path / "d.csv", [device_row()])
    run = services.import_run_create(file_name="d.csv", path=path, dry_run=True)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            services.import_run_execute(run=run, path=path)
    finally:
        estate_changed.disconnect(receiver)
    assert calls == []


# --- leases: reserve, take over, record failures, the reaper ------------------------


def _lapse(run_id: int) -> None:
    ImportRun.objects.filter(pk=run_id).update(
        lease_expires_at=timezone.now() - dt.timedelta(seconds=1)
    )


@pytest.fixture
def ten_rows(tmp_path, asset_manager):
    BusinessUnitFactory(code="CE")
    rows = [device_row(serial_number=f"T{i}") for i in range(10)]
    path = text_file(tmp_path / "ten.csv", rows)
    upload = SimpleUploadedFile("ten.csv", path.read_bytes())
    run = services.import_run_create(file_name="ten.csv", upload=upload, actor=asset_manager)
    return run, rows


def test_a_run_is_reserved_once_and_a_live_lease_is_never_taken(queued_run):
    first = runs.import_run_reserve(run_id=queued_run.pk)
    assert first.attempts == 1 and first.lease_expires_at > timezone.now()
    # A second delivery while the first worker holds it finds it taken
    assert runs.import_run_reserve(run_id=queued_run.pk) is None
    services.import_run_execute(run=first)  # started: queued -> running... -> succeeded
    assert runs.import_run_reserve(run_id=queued_run.pk) is None


def test_a_redelivered_task_takes_over_a_run_whose_worker_died_and_the_counts_are_right(
    ten_rows, asset_manager
):
    run, rows = ten_rows
    # Given attempt 1 committed the first four rows (two whole batches), then its
    # worker was killed: the run says running, with stale progress, for good
    dead = runs.import_run_reserve(run_id=run.pk)
    ImportRun.objects.filter(pk=run.pk).update(
        status=ImportRun.Status.RUNNING, started_at=timezone.now(), rows_total=10
    )
    services.devices_upsert_rows(rows=rows[:4], actor=asset_manager, source=dead.source)
    ImportRun.objects.filter(pk=run.pk).update(rows_processed=2, created_count=2)
    # A redelivery while the lease still runs leaves it alone
    assert import_estate_task(run.pk) == ImportRun.Status.RUNNING
    # When the lease lapses, the next delivery takes it over
    _lapse(run.pk)
    assert import_estate_task(run.pk) == ImportRun.Status.SUCCEEDED
    run.refresh_from_db()
    # Then the estate matches the file and the run counts what landed, over both attempts
    assert Device.objects.filter(serial_number__startswith="T").count() == 10
    assert run.attempts == 2
    assert (run.created_count, run.updated_count, run.unchanged_count, run.rejected_count) == (
        10,
        0,
        0,
        0,
    )
    assert (run.rows_processed, run.rows_total, run.lease_expires_at) == (10, 10, None)
    assert any("took over" in warning for warning in run.warnings)


def test_a_failure_after_a_batch_committed_records_every_row_that_landed(ten_rows, monkeypatch):
    run, _rows = ten_rows
    monkeypatch.setattr(services, "BATCH_SIZE", 2)
    real_update = runs.RunProgress.update
    calls = {"n": 0}

    def dies_after_the_second_batch_committed(self, **fields):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("server closed the connection unexpectedly")
        real_update(self, **fields)

    monkeypatch.setattr(runs.RunProgress, "update", dies_after_the_second_batch_committed)
    with pytest.raises(RuntimeError):
        import_estate_task(run.pk)
    run.refresh_from_db()
    assert run.status == ImportRun.Status.FAILED
    assert "server closed the connection" in run.failure_message
    # Two whole batches landed; the run says four rows, not the two its progress saw
    assert Device.objects.filter(serial_number__startswith="T").count() == 4
    assert (run.created_count, run.applied, run.lease_expires_at) == (4, True, None)


def test_a_superseded_attempt_cannot_record_progress_or_an_outcome(ten_rows):
    run, _rows = ten_rows
    old = runs.import_run_reserve(run_id=run.pk)
    ImportRun.objects.filter(pk=run.pk).update(
        status=ImportRun.Status.RUNNING, started_at=timezone.now()
    )
    _lapse(run.pk)
    new = runs.import_run_reserve(run_id=run.pk)
    ImportRun.objects.filter(pk=run.pk).update(
        status=ImportRun.Status.RUNNING, started_at=timezone.now()
    )
    old.refresh_from_db()
    old.attempts = 1  # the presumed-dead worker still thinks it is attempt 1
    runs.RunProgress(old, side_connection=False).update(rows_processed=9)
    runs.import_run_finish(old, status=ImportRun.Status.FAILED, failure="zombie")
    current = ImportRun.objects.get(pk=run.pk)
    assert (current.status, current.attempts, current.rows_processed) == (
        ImportRun.Status.RUNNING,
        new.attempts,
        0,
    )
    assert current.failure_message == ""


def test_the_reaper_queues_a_stranded_browser_import_again_and_it_finishes(
    ten_rows, django_capture_on_commit_callbacks
):
    run, _rows = ten_rows
    runs.import_run_reserve(run_id=run.pk)
    ImportRun.objects.filter(pk=run.pk).update(
        status=ImportRun.Status.RUNNING, started_at=timezone.now()
    )
    assert runs.import_runs_reap()["requeued"] == 0  # its lease still runs
    _lapse(run.pk)
    with django_capture_on_commit_callbacks(execute=True):
        assert runs.import_runs_reap()["requeued"] == 1
    run.refresh_from_db()
    assert (run.status, run.attempts, run.created_count) == (ImportRun.Status.SUCCEEDED, 2, 10)


def test_the_reaper_fails_a_stranded_command_import_with_the_reason_and_what_landed(
    tmp_path, asset_manager
):
    BusinessUnitFactory(code="CE")
    rows = [device_row(serial_number=f"C{i}") for i in range(3)]
    path = text_file(tmp_path / "cmd.csv", rows)
    run = services.import_run_create(
        file_name="cmd.csv", path=path, actor=asset_manager, origin=ImportRun.Origin.COMMAND
    )
    # Given the command's process died after landing two rows
    ImportRun.objects.filter(pk=run.pk).update(
        status=ImportRun.Status.RUNNING, started_at=timezone.now(), rows_total=3
    )
    services.devices_upsert_rows(rows=rows[:2], actor=asset_manager, source=run.source)
    _lapse(run.pk)
    assert runs.import_runs_reap()["failed"] == 1
    run.refresh_from_db()
    assert run.status == ImportRun.Status.FAILED
    assert "stopped without an outcome" in run.failure_message
    assert "Run the import_estate command again" in run.failure_message
    assert (run.created_count, run.applied) == (2, True)


def test_the_reaper_resends_a_lost_wake_up_and_fails_a_run_out_of_attempts(
    ten_rows, settings, django_capture_on_commit_callbacks
):
    run, _rows = ten_rows
    stale = dt.timedelta(seconds=settings.RUN_QUEUED_STALE_SECONDS + 1)
    # Given its message was lost and it has waited past the stale period
    ImportRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - stale)
    with django_capture_on_commit_callbacks() as wake_ups:
        assert runs.import_runs_reap()["woken"] == 1
        assert runs.import_runs_reap()["woken"] == 0  # once per stale period
    assert len(wake_ups) == 1
    # And a run whose every attempt died is failed, not retried forever
    ImportRun.objects.filter(pk=run.pk).update(
        status=ImportRun.Status.RUNNING,
        started_at=timezone.now(),
        attempts=settings.RUN_MAX_ATTEMPTS,
    )
    _lapse(run.pk)
    assert runs.import_run_reserve(run_id=run.pk) is None
    assert runs.import_runs_reap()["failed"] == 1
    run.refresh_from_db()
    assert run.status == ImportRun.Status.FAILED
    assert f"Gave up after {settings.RUN_MAX_ATTEMPTS} attempts" in run.failure_message
