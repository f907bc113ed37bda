"""Celery tasks of the estate app: thin wrappers around services.

Both are safe to run twice, so they are acknowledged late and a message whose
worker died goes back to the queue (settings: ``CELERY_TASK_ACKS_LATE``,
``CELERY_TASK_REJECT_ON_WORKER_LOST``).
"""

from celery import shared_task


@shared_task(name="devices.tasks.import_estate_task", acks_late=True)
def import_estate_task(run_id: int) -> str:
    """Run an import (``devices.importing.services.import_run_execute``).

    Safe to deliver twice: the run is reserved by a compare-and-swap (queued, or
    running with a lapsed lease: a redelivered message takes over from a dead
    worker), so a second delivery finds it held or finished and returns; the lease
    is renewed while the import runs.
    """
    from devices.importing.services import import_run_work
    from devices.models import ImportRun

    run = import_run_work(run_id=run_id)
    if run is None:
        status = ImportRun.objects.filter(pk=run_id).values_list("status", flat=True).first()
        return status or "missing"
    return run.status


@shared_task(name="devices.tasks.import_runs_reap_task")
def import_runs_reap_task() -> dict[str, int]:
    """Beat, every RUN_REAPER_INTERVAL_SECONDS: queue stranded import runs again or
    fail them with the reason (``devices.importing.runs.import_runs_reap``)."""
    from devices.importing.runs import import_runs_reap

    return import_runs_reap()
