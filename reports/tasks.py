"""Thin Celery tasks: the work is in reports.services."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.db import transaction

from reports import selectors, services

RETRY = {
    "autoretry_for": (Exception,),
    "retry_backoff": 30,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 3,
}


def _period_start(period: str | None) -> dt.date:
    """'2026-10' or '2026-10-01', or None for the previous month (Europe/London)."""
    if not period:
        return selectors.previous_month(selectors.london_today())[0]
    return dt.date.fromisoformat(period if len(period) > 7 else f"{period}-01").replace(day=1)


@shared_task
def stewardship_reports_generate_task(period: str | None = None) -> int:
    """Beat entry point: queue one unit task per active unit for the month.

    The runs are claimed set-based first, so a second beat finds them; each unit
    task is queued after commit and retried on its own, so one failing unit never
    stops the others.
    """
    start = _period_start(period)
    claimed = services.stewardship_runs_claim(period_start=start)
    for _run_id, unit_id in claimed:
        # robust: when tasks run eagerly (no broker), one unit's failure is logged
        # and the remaining units are still queued.
        transaction.on_commit(
            lambda unit_id=unit_id: stewardship_report_unit_task.delay(unit_id, start.isoformat()),
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
    """On-demand generation of an already claimed run."""
    run = services.report_run_execute(run_id=run_id)
    return run.pk if run else None


@shared_task(bind=True, **RETRY)
def report_run_notify_task(self, run_id: int) -> bool:
    return services.report_run_notify(run_id=run_id)
