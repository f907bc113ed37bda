"""Writes for the reports: claim a run, start it (compare-and-swap), build its
files, record success or failure, notify the unit's stewardship contact.

Business case: "Regular reporting will be made available to business units to
enable the proper stewardship of devices." One run per unit per period is a
database rule (``reports_reportrun_unique_unit_period``); a worker only builds a
run after winning the queued/failed -> running swap, so two beats, a retried
task or a redelivered message never produce two reports.

The run's row is the source of truth; a Celery message only wakes a worker. The
worker holds the run by a lease it renews (``core.leases``); if it dies the lease
lapses and a redelivered task or the reaper (``reports.reaper``) takes over. A
failure is recorded on a fresh connection, and the files an attempt wrote are
removed when it fails or is superseded. The notification e-mail is an outbox row
written in the success's transaction (``reports.notifications``).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
import traceback

from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import BusinessUnit
from accounts.roles import can_see_commercial
from core import background, leases
from core.errors import DomainError
from reports import documents, notifications, selectors
from reports.models import ReportRun
from reports.writers import csv as csv_writer
from reports.writers import pdf as pdf_writer
from reports.writers import xlsx as xlsx_writer

logger = logging.getLogger(__name__)

STEPS = 4  # figures, xlsx, csv, pdf: what the progress bar counts
FORMATS = ("xlsx", "csv", "pdf")
WRITERS = {"xlsx": xlsx_writer.write, "csv": csv_writer.write, "pdf": pdf_writer.write}

Status = ReportRun.Status


# --- claiming -----------------------------------------------------------------


def report_run_claim(
    *,
    kind: str,
    unit: BusinessUnit | None,
    period_start: dt.date,
    trigger: str = ReportRun.Trigger.SCHEDULE,
    requested_by=None,
) -> tuple[ReportRun, bool]:
    """The run for (kind, unit, period), created queued if there is none.

    Two callers racing both try to INSERT; the unique constraint lets one win and
    the loser's IntegrityError is turned into a read of the winner's row.
    """
    period_start, period_end = selectors.month_period(period_start)
    lookup = {"kind": kind, "business_unit": unit, "period_start": period_start}
    defaults = {
        "period_end": period_end,
        "trigger": trigger,
        "requested_by": requested_by,
        "idle_days": selectors.default_idle_days(),
    }
    try:
        with transaction.atomic():
            existing = ReportRun.objects.filter(**lookup).first()
            if existing is not None:
                return existing, False
            run = ReportRun(**lookup, **defaults)
            # Field validation here; the uniqueness rule is left to the database, which
            # is the only place it holds under a race (a pre-check could pass twice).
            run.full_clean(validate_constraints=False)
            run.save()
            return run, True
    except IntegrityError:
        # Lost the race to another beat or worker: theirs is the run.
        return ReportRun.objects.get(**lookup), False


def stewardship_runs_claim(*, period_start: dt.date) -> list[tuple[int, int]]:
    """Queued runs for every active unit for the month, set-based.

    INSERT ... ON CONFLICT DO NOTHING (bulk_create ignore_conflicts) creates the
    missing rows in one statement whichever beat fires first; returns (run id,
    unit id) for every run of the period still to do (queued or failed).
    """
    period_start, period_end = selectors.month_period(period_start)
    units = list(BusinessUnit.objects.filter(active=True).values_list("id", flat=True))
    idle_days = selectors.default_idle_days()
    ReportRun.objects.bulk_create(
        [
            ReportRun(
                kind=ReportRun.Kind.STEWARDSHIP,
                business_unit_id=unit_id,
                period_start=period_start,
                period_end=period_end,
                idle_days=idle_days,
            )
            for unit_id in units
        ],
        ignore_conflicts=True,
    )
    return list(
        ReportRun.objects.filter(
            kind=ReportRun.Kind.STEWARDSHIP,
            period_start=period_start,
            business_unit_id__in=units,
            status__in=[Status.QUEUED, Status.FAILED],
        )
        .order_by("business_unit__path")
        .values_list("id", "business_unit_id")
    )


class LeaseLost(Exception):
    """Another attempt took the run over (this worker was presumed dead): stop."""


def report_run_start(*, run_id: int) -> ReportRun | None:
    """Take the run by compare-and-swap: queued, failed (a retry), or running with a
    lapsed lease (its worker died) -> running, with a new lease and the next attempt.

    ``update()`` with the expected state in the WHERE clause is atomic in the
    database: of two workers holding the same run id, exactly one sees a row
    count of 1 and builds; the other returns None and does nothing. A run that has
    had RUN_MAX_ATTEMPTS attempts since it was queued is not taken again (the
    reaper fails it with the reason).
    """
    now = timezone.now()
    taken = (
        ReportRun.objects.filter(pk=run_id, attempts__lt=F("attempts_base") + leases.max_attempts())
        .filter(
            Q(status__in=[Status.QUEUED, Status.FAILED])
            | (Q(status=Status.RUNNING) & leases.lapsed(now))
        )
        .update(
            status=Status.RUNNING,
            attempts=F("attempts") + 1,
            lease_expires_at=leases.lease_until(now),
            started_at=now,
            finished_at=None,
            error="",
            progress_done=0,
            progress_total=STEPS,
        )
    )
    if taken != 1:
        return None
    return ReportRun.objects.select_related("business_unit").get(pk=run_id)


def _held(run: ReportRun):
    """This attempt's run, while it still holds it (the fence: status and attempt)."""
    return ReportRun.objects.filter(pk=run.pk, status=Status.RUNNING, attempts=run.attempts)


def _renew(run: ReportRun) -> bool:
    return _held(run).update(lease_expires_at=leases.lease_until()) == 1


def _progress(run: ReportRun, done: int) -> None:
    """Progress for the page, renewing the lease; stop if another attempt took over."""
    if not _held(run).update(progress_done=done, lease_expires_at=leases.lease_until()):
        raise LeaseLost(f"Attempt {run.attempts} of report run {run.pk} no longer holds it")


# --- building -----------------------------------------------------------------


def _write_files(run: ReportRun, document, stem: str) -> dict[str, str]:
    """Write each format to a temporary file, then into the default storage.

    Temporary files keep memory flat whatever the size; the storage (local disk
    by default, S3 or similar via STORAGES) only ever sees a finished file.
    """
    names = {}
    for step, fmt in enumerate(FORMATS, start=2):
        with tempfile.TemporaryFile(suffix=f".{fmt}") as handle:
            WRITERS[fmt](document, handle)
            handle.seek(0)
            field = run.file_for(fmt)
            names[fmt] = field.storage.save(
                field.field.generate_filename(run, f"{stem}.{fmt}"), File(handle)
            )
        _progress(run, step)
    return names


def _stem(run: ReportRun, attempt: int | None = None) -> str:
    """File names carry the run and the attempt, so no two attempts share a file."""
    who = run.business_unit.code if run.business_unit_id else "organisation"
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in who)
    attempt = run.attempts if attempt is None else attempt
    return f"{run.kind}-{safe}-{run.period_start:%Y-%m}-r{run.pk}a{attempt}"


def attempt_file_names(run: ReportRun, attempts) -> list[str]:
    """The storage names the given attempts write (or wrote, or began to write)."""
    return [
        run.file_for(fmt).field.generate_filename(run, f"{_stem(run, attempt)}.{fmt}")
        for attempt in attempts
        for fmt in FORMATS
    ]


def stray_file_names(run: ReportRun) -> list[str]:
    """Files of this request's attempts (since it was queued) that the run does not
    hold: a failed attempt's partial files, a dead worker's, a superseded attempt's."""
    held = {run.file_for(fmt).name for fmt in FORMATS}
    window = range(run.attempts_base + 1, run.attempts + 1)
    return [name for name in attempt_file_names(run, window) if name not in held]


def stewardship_report_build(
    *, run: ReportRun, figures: dict | None = None, max_device_rows: int | None = None
) -> dict:
    """Compute one unit's figures (sub-units included) and write its XLSX, CSV and PDF.

    Returns the fields to store on the run. Set-based: a fixed number of grouped
    queries for the figures (or none, when the caller computed every unit's at
    once), and one streamed query per file for the device rows.
    """
    unit = run.business_unit
    if figures is None:
        figures = selectors.stewardship_unit_figures(
            unit=unit,
            period_start=run.period_start,
            period_end=run.period_end,
            idle_days=run.idle_days,
        )
    previous = selectors.previous_summary(run=run)
    trend_rows = selectors.trend(current=figures["headline"], previous=previous)
    _progress(run, 1)
    previous_label = f"{previous['period_start']:%B %Y}" if previous is not None else None
    document = documents.stewardship_document(
        unit=unit,
        figures=figures,
        trend_rows=trend_rows,
        previous_label=previous_label,
        period_label=run.period_label,
        period_end=run.period_end,
        idle_days=run.idle_days,
        generated_at=timezone.now(),
        max_device_rows=max_device_rows,
    )
    names = _write_files(run, document, _stem(run))
    summary = {
        key: figures[key]
        for key in (
            "headline",
            "by_category_status",
            "entitlement",
            "stock",
            "idle",
            "lost",
            "refresh",
        )
    }
    summary["trend"] = trend_rows
    summary["previous_period_start"] = (
        previous["period_start"].isoformat() if previous is not None else None
    )
    return {
        "names": names,
        "summary": summary,
        "classification": document.marking,
        "device_rows": document.detail_count,
    }


def finance_report_build(*, run: ReportRun, figures: dict | None = None, **_options) -> dict:
    """Procurement's envelope position as XLSX, CSV and PDF, marked
    OFFICIAL-SENSITIVE [COMMERCIAL]."""
    position = selectors.finance_position(as_of=run.period_end)
    _progress(run, 1)
    document = documents.finance_document(
        position=position, period_label=run.period_label, generated_at=timezone.now()
    )
    names = _write_files(run, document, _stem(run))
    return {
        "names": names,
        "summary": {
            "envelope_recorded": position["envelope"] is not None,
            "headline": {
                str(k): (v if isinstance(v, int | float | str) or v is None else str(v))
                for k, v in document.headline
            },
        },
        "classification": document.marking,
        "device_rows": 0,
    }


BUILDERS = {
    ReportRun.Kind.STEWARDSHIP: "stewardship_report_build",
    ReportRun.Kind.FINANCE: "finance_report_build",
}


def report_run_execute(
    *,
    run_id: int,
    figures: dict | None = None,
    notify: bool = True,
    max_device_rows: int | None = None,
) -> ReportRun | None:
    """Build a claimed run if this caller wins it; record success or failure.

    A failure is recorded (status failed, the error text) and re-raised so the
    Celery task retries it; the retry wins the failed -> running swap again.
    Returns None when another worker has the run or it has already succeeded.
    """
    run = report_run_start(run_id=run_id)
    if run is None:
        return None
    # Looked up by name at call time so a test (or an operator) can swap a builder.
    build = globals()[BUILDERS[run.kind]]
    try:
        options = {} if max_device_rows is None else {"max_device_rows": max_device_rows}
        if figures is not None:
            options["figures"] = figures
        with leases.Heartbeat(lambda: _renew(run)):
            result = build(run=run, **options)
    except LeaseLost:
        # Superseded: the attempt that took over owns the run; remove only our files.
        report_files_delete(run, attempt_file_names(run, [run.attempts]))
        logger.warning("Report run %s: attempt %s was taken over", run.pk, run.attempts)
        return None
    except Exception as exc:
        report_run_fail(run=run, error=exc)
        raise
    return report_run_succeed(run=run, result=result, notify=notify)


def report_run_fail(*, run: ReportRun, error: BaseException) -> bool:
    """Record a failed attempt: its files removed first (partial ones included), then
    status failed with the error, written on a fresh connection (the one the work
    used may be dead) and only if this attempt still holds the run."""
    report_files_delete(run, attempt_file_names(run, [run.attempts]))
    message = (
        f"Attempt {run.attempts}: {error.__class__.__name__}: {error}\n\n"
        + "".join(traceback.format_exception(error))[-4000:]
    )
    recorded = leases.on_fresh_connection(
        lambda: _held(run).update(
            status=Status.FAILED,
            finished_at=timezone.now(),
            lease_expires_at=None,
            error=message,
        )
    )
    logger.error("Report run %s failed on attempt %s", run.pk, run.attempts, exc_info=error)
    if recorded != 1:
        return False
    # Still ours when it failed: earlier attempts' leftovers (a dead worker's) go too.
    report_files_delete(run, stray_file_names(run))
    return True


def report_run_succeed(*, run: ReportRun, result: dict, notify: bool = True) -> ReportRun | None:
    """Record the files and figures, only if this attempt still owns the run."""
    names = result["names"]
    old = [getattr(run, f"{fmt}_file").name for fmt in FORMATS]
    with transaction.atomic():
        updated = _held(run).update(
            status=Status.SUCCEEDED,
            finished_at=timezone.now(),
            lease_expires_at=None,
            progress_done=STEPS,
            summary=result["summary"],
            classification=result["classification"],
            device_rows=result["device_rows"],
            xlsx_file=names["xlsx"],
            csv_file=names["csv"],
            pdf_file=names["pdf"],
            error="",
            notified_at=None,
            notified_to="",
        )
        if updated != 1:
            # Another worker took the run over (we were presumed dead): keep theirs.
            report_files_delete(run, names.values())
            return None
        stored = ReportRun.objects.select_related("business_unit").get(pk=run.pk)
        # The previous success's files, and whatever earlier attempts of this request
        # left (a dead worker's partial files), once the new ones are committed.
        leftovers = [n for n in old if n and n not in names.values()]
        leftovers += stray_file_names(stored)
        transaction.on_commit(lambda: report_files_delete(run, leftovers))
        if notify and notifications.notification_owed(run=stored):
            # The e-mail is owed as surely as the report is stored: one transaction.
            notifications.notification_create(run=stored)
            from reports.tasks import report_run_notify_task

            # robust: without a broker the e-mail is sent in-process, and a mail
            # failure must not undo or hide the report that was just stored.
            transaction.on_commit(
                lambda: background.dispatch(report_run_notify_task, run.pk), robust=True
            )
    return stored


def report_files_delete(run: ReportRun, names) -> None:
    """Delete stored files; a missing one is fine (FileSystemStorage and S3 both
    treat it as done), a failure is logged and never fails the caller."""
    storage = run.xlsx_file.storage
    for name in names:
        try:
            storage.delete(name)
        except Exception:  # noqa: BLE001 - cleanup must never mask the outcome
            logger.warning("Could not delete report file %s", name, exc_info=True)


def stewardship_report_unit_run(*, unit_id: int, period_start: dt.date) -> ReportRun | None:
    """Claim (or find) the unit's run for the month and build it if this caller wins it."""
    unit = BusinessUnit.objects.get(pk=unit_id)
    run, _ = report_run_claim(kind=ReportRun.Kind.STEWARDSHIP, unit=unit, period_start=period_start)
    return report_run_execute(run_id=run.pk)


def finance_report_run(*, period_start: dt.date) -> ReportRun | None:
    run, _ = report_run_claim(kind=ReportRun.Kind.FINANCE, unit=None, period_start=period_start)
    return report_run_execute(run_id=run.pk)


def stewardship_reports_generate_now(
    *, period_start: dt.date, notify: bool = True, max_device_rows: int | None = None
) -> dict[str, int]:
    """Every active unit's report for the month, synchronously in this process.

    For the demo, the benchmark and operators without a worker: the figures for
    all units come from one set-based pass (a handful of grouped queries), then
    each unit's files are written. A failing unit is recorded failed and the
    others carry on. Returns counts by outcome.
    """
    claimed = stewardship_runs_claim(period_start=period_start)
    period_start, period_end = selectors.month_period(period_start)
    idle_days = selectors.default_idle_days()
    figures = selectors.stewardship_figures(
        period_start=period_start, period_end=period_end, idle_days=idle_days
    )
    outcome = {"succeeded": 0, "failed": 0, "skipped": 0}
    for run_id, unit_id in claimed:
        try:
            run = report_run_execute(
                run_id=run_id,
                figures=figures[unit_id],
                notify=notify,
                max_device_rows=max_device_rows,
            )
        except Exception:  # recorded on the run by report_run_execute; carry on
            outcome["failed"] += 1
            continue
        outcome["succeeded" if run else "skipped"] += 1
    return outcome


# --- on demand ------------------------------------------------------------------


def report_run_request(
    *, user, kind: str, unit: BusinessUnit | None, period_start: dt.date
) -> ReportRun:
    """ "Generate now": queue the unit's (or the finance) report for a month.

    Only for a unit in the user's scope; the finance report only for finance and
    commercial roles (it is OFFICIAL-SENSITIVE [COMMERCIAL]). A finished run for
    the same period is regenerated in place (the uniqueness rule stands); a
    queued or running one is left alone and its progress shown.
    """
    if not selectors.may_generate(user):
        raise DomainError("You cannot generate reports.", code="forbidden")
    if kind == ReportRun.Kind.FINANCE:
        if not can_see_commercial(user):
            raise DomainError(
                "Only finance and commercial roles can generate the finance report.",
                code="forbidden",
            )
        unit = None
    elif unit is None or not selectors.generatable_units(user=user).filter(pk=unit.pk).exists():
        raise DomainError("Choose a business unit you are responsible for.", field="unit")
    if period_start > selectors.london_today():
        raise DomainError("The period cannot start in the future.", field="period")
    first, last = selectors.report_period_range()
    if period_start.day != 1 or not first <= period_start <= last:
        # Every door (page, API, admin) passes here: a month outside the range would
        # be queued and fail on every attempt.
        raise DomainError(
            f"The period must be a month from {first:%B %Y} to {last:%B %Y}.", field="period"
        )
    with transaction.atomic():
        run, created = report_run_claim(
            kind=kind,
            unit=unit,
            period_start=period_start,
            trigger=ReportRun.Trigger.ON_DEMAND,
            requested_by=user,
        )
        if not created:
            # Regenerate a finished run; compare-and-swap so a worker mid-build is never
            # disturbed. A fresh request gets a fresh budget of attempts.
            ReportRun.objects.filter(
                pk=run.pk, status__in=[Status.SUCCEEDED, Status.FAILED]
            ).update(
                status=Status.QUEUED,
                trigger=ReportRun.Trigger.ON_DEMAND,
                requested_by=user,
                attempts_base=F("attempts"),
                lease_expires_at=None,
                progress_done=0,
                progress_total=STEPS,
                queued_at=timezone.now(),
                woken_at=None,
                started_at=None,
                finished_at=None,
                error="",
            )
            run.refresh_from_db()
        if run.status == Status.QUEUED:
            from reports.tasks import report_run_task

            # robust: a failure to queue is logged; the run stays queued and the reaper
            # sends its wake-up again. Without a worker the build runs on a thread of
            # this process (or inline); a failure is recorded on the run, not a 500.
            transaction.on_commit(lambda: background.dispatch(report_run_task, run.pk), robust=True)
    return run


# --- delivery -------------------------------------------------------------------


def report_run_notify(*, run_id: int) -> bool:
    """Send the run's pending notification e-mails (the outbox); True if one went."""
    return notifications.run_notifications_send(run_id=run_id)


def report_file_open(*, run: ReportRun, fmt: str):
    """The stored file of a run, opened for reading, or DomainError if there is none."""
    field = run.file_for(fmt)
    if field is None or not field.name:
        raise DomainError(f"This report has no {fmt} file.", field="format", code="not_found")
    return field.storage.open(field.name, "rb"), os.path.basename(field.name)
