"""Without a worker (no broker: ``make run`` on SQLite), a browser import and an
on-demand report answer at once: the work runs on a thread of the web process
(``core.background``, ``TASKS_IN_THREADS``), the run's row carries its state, and
the run then finishes. Inside a transaction the task still runs inline."""

from __future__ import annotations

import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.roles import Role
from core import background
from devices.importing import services as importing
from devices.models import Device, ImportRun
from devices.tasks import import_estate_task
from reports import services as reports
from reports.models import ReportRun
from tests.devices.import_files import device_row, text_file
from tests.factories import BusinessUnitFactory


@pytest.fixture
def in_threads(settings):
    settings.TASKS_IN_THREADS = True
    yield
    assert background.wait_idle(timeout=60), "a background task never finished"


def _gate(monkeypatch, module, name):
    """Hold ``module.name`` until the test opens the gate; ``started`` says it was
    called (on another thread)."""
    real = getattr(module, name)
    gate, started, threads = threading.Event(), threading.Event(), []

    def held(*args, **kwargs):
        threads.append(threading.current_thread().name)
        started.set()
        assert gate.wait(30), "the test never released the work"
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, held)
    return gate, started, threads


@pytest.mark.django_db(transaction=True)
def test_a_browser_import_answers_before_it_runs_then_finishes(
    client, in_threads, monkeypatch, tmp_path, asset_manager
):
    BusinessUnitFactory(code="CE")
    gate, started, threads = _gate(monkeypatch, importing, "import_run_execute")
    path = text_file(tmp_path / "e.csv", [device_row(serial_number=f"W{i}") for i in range(3)])
    client.force_login(asset_manager)
    # When the asset manager uploads a file
    response = client.post(
        reverse("devices:import_list"),
        {
            "file": SimpleUploadedFile("e.csv", path.read_bytes(), content_type="text/csv"),
            "mode": "valid-rows",
            "mapping": "default",
        },
    )
    # Then the page answers at once (the import is held, on another thread)
    run = ImportRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("devices:import_detail", args=[run.pk])
    assert started.wait(10) and threads[0].startswith("tasks")
    assert run.status == ImportRun.Status.QUEUED and not Device.objects.exists()
    page = client.get(response["Location"])
    assert b"hx-trigger" in page.content  # the page polls while the run is under way
    # And once the work goes on, the run finishes
    gate.set()
    assert background.wait_idle(timeout=60)
    run.refresh_from_db()
    assert (run.status, run.created_count) == (ImportRun.Status.SUCCEEDED, 3)
    assert Device.objects.filter(serial_number__startswith="W").count() == 3


@pytest.mark.django_db(transaction=True)
def test_generate_now_answers_before_the_report_is_built_then_it_finishes(
    client, in_threads, monkeypatch, make_user
):
    unit = BusinessUnitFactory(code="G")
    lead = make_user(Role.UNIT_VIEWER, units=[unit])
    gate, started, threads = _gate(monkeypatch, reports, "report_run_execute")
    client.force_login(lead)
    response = client.post(
        reverse("reports:report_generate"),
        {"kind": "stewardship", "unit": unit.pk, "period": "2026-10"},
    )
    run = ReportRun.objects.get()
    assert response.status_code == 302
    assert started.wait(10) and threads[0].startswith("tasks")
    assert run.status == ReportRun.Status.QUEUED
    gate.set()
    assert background.wait_idle(timeout=60)
    run.refresh_from_db()
    assert run.status == ReportRun.Status.SUCCEEDED and run.xlsx_file


@pytest.mark.django_db
def test_inside_a_transaction_the_task_runs_inline(settings):
    # Another thread's connection could not see this transaction's rows.
    settings.TASKS_IN_THREADS = True
    assert background.in_threads(import_estate_task) is False


def test_with_a_broker_tasks_go_to_it_whatever_the_setting(settings):
    from config.celery import app

    settings.TASKS_IN_THREADS = True
    app.conf.task_always_eager = False
    try:
        assert background.in_threads(import_estate_task) is False
    finally:
        app.conf.task_always_eager = True
