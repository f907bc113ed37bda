"""Import runs as the browser's Celery task runs them: claimed once, progress
recorded, eligibility recomputed after changes."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

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
