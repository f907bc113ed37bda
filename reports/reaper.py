"""The reaper for report runs and their notification outbox (a beat task every
RUN_REAPER_INTERVAL_SECONDS, ``reports.tasks.report_runs_reap_task``).

It finds work a worker started and never finished, and work whose message was lost:

- a run ``running`` whose lease lapsed (its worker died): queued again and its
  wake-up sent, or, after RUN_MAX_ATTEMPTS attempts, failed with the reason and its
  attempts' files removed;
- a run ``queued`` that nobody claimed for RUN_QUEUED_STALE_SECONDS (a broker
  restart, a purge): its wake-up sent again;
- a notification ``pending`` with no live lease for RUN_QUEUED_STALE_SECONDS: its
  wake-up sent again, or, out of attempts, failed with the reason.

Every change is a compare-and-swap on the state it read, so two reapers (two beats)
never both act on a row, and a worker finishing the run at the same moment wins.
A wake-up sent twice is harmless: the run's start is itself a compare-and-swap.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core import background, leases
from reports import services
from reports.models import ReportNotification, ReportRun

logger = logging.getLogger(__name__)

Status = ReportRun.Status
N = ReportNotification.Status


def report_runs_reap(*, now=None) -> dict[str, int]:
    """One pass of the reaper over report runs and notifications; counts by action."""
    now = now or timezone.now()
    outcome = {"requeued": 0, "woken": 0, "failed": 0, "notifications_woken": 0}
    outcome["notifications_failed"] = 0
    _reap_running(now, outcome)
    _wake_queued(now, outcome)
    _reap_notifications(now, outcome)
    if any(outcome.values()):
        logger.warning("Report reaper: %s", outcome)
    return outcome


def _reap_running(now, outcome) -> None:
    stranded = ReportRun.objects.filter(Q(status=Status.RUNNING) & leases.lapsed(now))
    for run in stranded.select_related("business_unit"):
        this = ReportRun.objects.filter(
            Q(pk=run.pk, status=Status.RUNNING, attempts=run.attempts) & leases.lapsed(now)
        )
        lapsed_at = run.lease_expires_at or run.started_at
        stopped = (
            f"Attempt {run.attempts} stopped without an outcome: the worker running it was "
            f"lost (its lease lapsed at {timezone.localtime(lapsed_at):%H:%M:%S})."
        )
        if run.attempts - run.attempts_base >= leases.max_attempts():
            failed = this.update(
                status=Status.FAILED,
                finished_at=now,
                lease_expires_at=None,
                error=f"{stopped} Gave up after {run.attempts - run.attempts_base} attempts.",
            )
            if failed:
                logger.warning("Report run %s failed: %s", run.pk, stopped)
                run.refresh_from_db()
                services.report_files_delete(run, services.stray_file_names(run))
                outcome["failed"] += 1
            continue
        with transaction.atomic():
            if this.update(
                status=Status.QUEUED,
                lease_expires_at=None,
                woken_at=now,
                error=f"{stopped} Queued again.",
            ):
                _wake(run.pk)
                outcome["requeued"] += 1
                logger.warning("Report run %s: %s Queued again.", run.pk, stopped)


def _wake_queued(now, outcome) -> None:
    stale = leases.queued_stale_before(now)
    waiting = ReportRun.objects.filter(status=Status.QUEUED).filter(
        Q(woken_at__lt=stale) | Q(woken_at__isnull=True, queued_at__lt=stale)
    )
    for run_id, woken_at in waiting.values_list("pk", "woken_at"):
        with transaction.atomic():
            # The swap on woken_at: of two reapers, one sends the wake-up.
            if ReportRun.objects.filter(pk=run_id, status=Status.QUEUED, woken_at=woken_at).update(
                woken_at=now
            ):
                _wake(run_id)
                outcome["woken"] += 1


def _reap_notifications(now, outcome) -> None:
    stale = leases.queued_stale_before(now)
    waiting = ReportNotification.objects.filter(
        Q(status=N.PENDING, queued_at__lt=stale) & leases.free(now)
    )
    for note in waiting.only("pk", "run_id", "attempts", "queued_at", "error"):
        this = ReportNotification.objects.filter(
            Q(pk=note.pk, status=N.PENDING, queued_at=note.queued_at) & leases.free(now)
        )
        if note.attempts >= leases.max_attempts():
            if this.update(
                status=N.FAILED,
                error=f"Gave up after {note.attempts} attempts. {note.error}".strip(),
            ):
                outcome["notifications_failed"] += 1
            continue
        with transaction.atomic():
            if this.update(queued_at=now):
                _wake_notification(note.run_id)
                outcome["notifications_woken"] += 1


def _wake(run_id: int) -> None:
    from reports.tasks import report_run_task

    transaction.on_commit(lambda: background.dispatch(report_run_task, run_id), robust=True)


def _wake_notification(run_id: int) -> None:
    from reports.tasks import report_run_notify_task

    transaction.on_commit(lambda: background.dispatch(report_run_notify_task, run_id), robust=True)
