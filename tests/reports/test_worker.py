"""The monthly fan-out through a REAL Celery worker against Redis (not eager)."""

import time

import pytest
from celery.contrib.testing.worker import start_worker

from reports import tasks
from reports.models import ReportRun


@pytest.fixture
def real_worker_app(settings):
    """The project's Celery app pointed at Redis and not eager, restored afterwards."""
    from config.celery import app

    saved = {
        key: app.conf[key]
        for key in ("task_always_eager", "broker_url", "result_backend", "task_eager_propagates")
    }
    app.conf.task_always_eager = False
    app.conf.broker_url = settings.REDIS_URL
    app.conf.result_backend = settings.REDIS_URL
    # Drop any connection pool made for the in-memory broker.
    app._pool = None
    yield app
    for key, value in saved.items():
        app.conf[key] = value
    app._pool = None


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_monthly_fan_out_runs_every_unit_through_a_real_worker(estate, real_worker_app):
    with start_worker(real_worker_app, pool="solo", concurrency=1, perform_ping_check=False):
        # Two beats fire for the same month.
        tasks.stewardship_reports_generate_task.delay("2026-10")
        tasks.stewardship_reports_generate_task.delay("2026-10")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            statuses = list(ReportRun.objects.values_list("status", flat=True))
            if len(statuses) == 3 and set(statuses) == {ReportRun.Status.SUCCEEDED}:
                break
            time.sleep(0.5)
    runs = ReportRun.objects.order_by("business_unit__path")
    assert [r.business_unit.code for r in runs] == ["A", "A1", "B"]
    assert {r.status for r in runs} == {ReportRun.Status.SUCCEEDED}
    assert {r.attempts for r in runs} == {1}  # duplicate unit tasks lost the start swap
    assert all(r.xlsx_file.storage.exists(r.xlsx_file.name) for r in runs)
