"""Celery tasks of the estate app: thin wrappers around services."""

from celery import shared_task


@shared_task(name="devices.tasks.import_estate_task", acks_late=True)
def import_estate_task(run_id: int) -> str:
    """Run a queued estate import (``devices.importing.services.import_run_execute``).

    Safe to deliver twice: the run is claimed with a compare-and-swap from
    queued to running, so a second delivery finds it taken and returns.
    """
    from devices.importing.services import import_run_execute
    from devices.models import ImportRun

    run = ImportRun.objects.filter(pk=run_id).first()
    if run is None:
        return "missing"
    run = import_run_execute(run=run)
    return run.status
