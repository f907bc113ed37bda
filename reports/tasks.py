"""Thin Celery tasks: the work is in reports.services (and the reaper, the outbox).

Every task here is safe to run twice: a run is started by a compare-and-swap on its
row and a notification is taken the same way, so late acknowledgement with
``reject_on_worker_lost`` (settings) puts a dead worker's message back in the queue
without risk of a second report or a second e-mail at once.
"""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.conf import settings
from django.db import transaction

from core import background
from reports import reaper, selectors, services

RETRY = {
    "autoretry_for": (Exception,),
    "retry_backoff": settings.RUN_RETRY_BACKOFF_SECONDS,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 3,
}


def _period_start(period: str | None) -> dt.date:
    """'2026-10' or '2026-10-01', or None for the previous month (Europe/London)."""
    if not period:
        return selectors.previous_month(selectors.london_today())[0]
    # The same check as the pages and the API: a month in range, or ValueError.
    return selectors.report_period_parse(period, label="Period")


@shared_task
def stewardship_reports_generate_task(period: str | None = None) -> int:
    """Beat entry point: queue one unit task per active unit for the month.

    The runs are claimed set-based first, so a second beat finds them; each unit
    task is queued after commit and retried on its own, so one failing unit never
    stops the others. A unit message lost on the way is sent again by the reaper
    (the queued run is the record of the work).
    """
    start = _period_start(period)
    claimed = services.stewardship_runs_claim(period_start=start)
    for _run_id, unit_id in claimed:
        # robust: when tasks run eagerly (no broker), one unit's failure is logged
        # and the remaining units are still queued.
        transaction.on_commit(
            lambda unit_id=unit_id: background.dispatch(
                stewardship_report_unit_task, unit_id, start.isoformat()
            ),
            robust=True,
        )
    return len(claimed)


@shared_task(bind=True, **RETRY)
def stewardship_report_unit_task(self, unit_id: int, period_start: str) -> int | None:
    run = services.stewardship_report_unit_run(
        unit_id=unit_id, period_start=dt.date.fromisoformat(period_start)
    )
    return run.pk if run else None


@shared_task(bind=True, **RETRY)
def finance_report_generate_task(self, period: str | None = None) -> int | None:
    """Beat entry point for the monthly finance report (organisation-wide)."""
    run = services.finance_report_run(period_start=_period_start(period))
    return run.pk if run else None


@shared_task(bind=True, **RETRY)
def report_run_task(self, run_id: int) -> int | None:
    """Build an already claimed run: on demand, or woken again by the reaper."""
    run = services.report_run_execute(run_id=run_id)
    return run.pk if run else None


@shared_task(bind=True, **RETRY)
def report_run_notify_task(self, run_id: int) -> bool:
    """Send the run's pending notification e-mails (the outbox)."""
    return services.report_run_notify(run_id=run_id)


@shared_task
def report_runs_reap_task() -> dict[str, int]:
    """Beat, every RUN_REAPER_INTERVAL_SECONDS: re-queue or fail stranded report runs
    and send lost notification wake-ups again (``reports.reaper``)."""
    return reaper.report_runs_reap()
