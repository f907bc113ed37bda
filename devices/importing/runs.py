"""The record of an estate import (``ImportRun``): created and queued, its progress
while it runs, its row errors (a sample for the page and the full report file),
and its outcome. Running the rows through the upsert is
``devices.importing.services.import_run_execute``.

The run's row is the source of truth; the Celery message only wakes a worker. A
worker reserves the run by compare-and-swap (queued, or running with a lapsed lease:
its worker died) with the next attempt number and a lease, renews the lease while it
works (a heartbeat, and every batch's progress write), and every write of the attempt
is fenced by its number. A failure is recorded on a fresh connection. The reaper
(``import_runs_reap``, a beat task) queues a stranded run again or fails it with the
reason; valid-rows imports land whole batches only, and a repeat of a batch is a
no-op, so a run taken over converges to the file, its counts taken from the events
every attempt wrote.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import logging
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from core import background, leases
from core.errors import DomainError
from core.exports import classification, write_csv
from devices.importing import values as v
from devices.importing.mappings import MAPPINGS
from devices.importing.rows import MODES
from devices.models import DeviceEvent, ImportRun

logger = logging.getLogger(__name__)

ERROR_SAMPLE_SIZE = 50
ERROR_REPORT_HEADER = ["row", "column", "value", "reason"]


def import_run_create(
    *,
    file_name: str,
    actor=None,
    mode: str = ImportRun.Mode.VALID_ROWS,
    mapping: str = "default",
    dry_run: bool = False,
    origin: str = ImportRun.Origin.WEB,
    upload=None,
    path=None,
    record_exceptions: bool = False,
) -> ImportRun:
    """Record an import before it runs (queued). Every import is recorded.

    ``upload`` (a Django File, from the browser) is stored under MEDIA_ROOT so
    the Celery task can read it; ``path`` (the command) is hashed in place.
    """
    if mode not in MODES:
        raise DomainError(f"Mode must be one of {', '.join(MODES)}.", field="mode")
    if mapping not in MAPPINGS:
        raise DomainError(
            f"There is no column mapping called {mapping!r}; use one of {', '.join(MAPPINGS)}.",
            field="mapping",
        )
    digest = hashlib.sha256()
    if upload is not None:
        for chunk in upload.chunks():
            digest.update(chunk)
        upload.seek(0)
    else:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    run = ImportRun(
        created_by=actor,
        origin=origin,
        file_name=Path(file_name).name[:255],
        sha256=digest.hexdigest(),
        mode=mode,
        mapping=mapping,
        dry_run=dry_run,
        record_exceptions=record_exceptions,
    )
    if upload is not None:
        run.file.save(Path(file_name).name, upload, save=False)
    run.full_clean()
    run.save()
    return run


def import_run_enqueue(*, run: ImportRun) -> None:
    """Queue the run's Celery task once the run's row is committed.

    Without a worker the task runs on a thread of this process (``core.background``,
    ``TASKS_IN_THREADS``), so the page answers at once and its progress poll shows the
    import as it goes. robust: if the broker cannot take the message, the run stays
    queued and the reaper sends its wake-up again; the request does not fail.
    """
    from devices.tasks import import_estate_task

    transaction.on_commit(lambda: background.dispatch(import_estate_task, run.pk), robust=True)


Status = ImportRun.Status
# A run without a lease (every worker reserves one through ``import_run_work``; rows
# without were written before leases existed) counts as stranded only after this
# long: the longest a task may run.
UNLEASED_AFTER = dt.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)


def import_run_reserve(*, run_id: int) -> ImportRun | None:
    """Reserve the run for this worker, by compare-and-swap: queued (and not reserved
    by a live lease) or running with a lapsed lease (its worker died) -> queued, with
    the next attempt number and a lease; ``import_run_execute`` then starts it
    (queued -> running). None if another worker has it, it has finished, or it has
    had RUN_MAX_ATTEMPTS attempts (the reaper fails it with the reason).

    A taken-over run starts again from the top of the file: batches its earlier
    attempt committed are unchanged rows now, and the counts at the end come from
    the events every attempt wrote (``import_run_finish``).
    """
    now = timezone.now()
    free = Q(status=Status.QUEUED) & leases.free(now)
    stranded = Q(status=Status.RUNNING) & leases.lapsed(now, unleased_after=UNLEASED_AFTER)
    reserved = (
        ImportRun.objects.filter(pk=run_id, attempts__lt=leases.max_attempts())
        .filter(free | stranded)
        .update(
            status=Status.QUEUED,
            attempts=F("attempts") + 1,
            lease_expires_at=leases.lease_until(now),
            started_at=None,
            finished_at=None,
            rows_processed=0,
            created_count=0,
            updated_count=0,
            unchanged_count=0,
            rejected_count=0,
            field_changes={},
            error_sample=[],
            failure_message="",
        )
    )
    if reserved != 1:
        return None
    return ImportRun.objects.get(pk=run_id)


def _held(run: ImportRun):
    """The run while this attempt holds it (reserved or running, same attempt)."""
    return ImportRun.objects.filter(
        pk=run.pk, attempts=run.attempts, status__in=[Status.QUEUED, Status.RUNNING]
    )


def import_run_heartbeat(run: ImportRun) -> leases.Heartbeat:
    """Renew the run's lease while the ``with`` block runs (``core.leases.Heartbeat``)."""
    return leases.Heartbeat(lambda: _held(run).update(lease_expires_at=leases.lease_until()) == 1)


class ErrorSink:
    """Row errors streamed to a temporary file (a file may have a million of
    them), with the first few kept for the summary page."""

    def __init__(self):
        self.file = tempfile.TemporaryFile("w+", encoding="utf-8", newline="")  # noqa: SIM115
        self.writer = csv.writer(self.file)
        self.sample: list[dict] = []
        self.commercial = False
        self.count = 0

    def add(self, *, row: int, column: str, value, reason: str, code: str = "") -> None:
        shown = v.shown(value)
        self.writer.writerow([row, column, shown, reason])
        if column == "purchase_cost":
            self.commercial = True
        self.count += 1
        if len(self.sample) < ERROR_SAMPLE_SIZE:
            entry = {"row": row, "column": column, "value": shown, "reason": reason}
            if code:
                entry["code"] = code
            self.sample.append(entry)

    def report(self) -> tuple[File, str] | None:
        """The error report: marked (commercial when a cost is quoted), neutralised."""
        if not self.count:
            return None
        self.file.seek(0)
        out = tempfile.TemporaryFile("w+b")  # noqa: SIM115 - handed to the storage, closed there
        text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="")
        marking = classification(commercial=self.commercial)
        write_csv(text, header=ERROR_REPORT_HEADER, rows=csv.reader(self.file), marking=marking)
        text.flush()
        text.detach()
        out.seek(0)
        return File(out), marking

    def close(self) -> None:
        self.file.close()


class RunProgress:
    """Progress writes for the page's progress bar: a compare-and-swap update()
    on the run (only while this attempt still holds it running, so a run marked
    failed or taken over by someone else is never revived). Each also renews the
    run's lease.

    Inside the one transaction of an all-or-nothing import, an update through
    the import's own connection would stay invisible until the end, so on
    PostgreSQL the progress goes through a second, autocommitting connection.
    """

    def __init__(self, run: ImportRun, *, side_connection: bool):
        self.run = run
        self.side = None
        if side_connection and connection.vendor == "postgresql":
            self.side = connections.create_connection(DEFAULT_DB_ALIAS)

    def update(self, **fields) -> None:
        fields["lease_expires_at"] = leases.lease_until()
        if self.side is None:
            ImportRun.objects.filter(
                pk=self.run.pk, status=ImportRun.Status.RUNNING, attempts=self.run.attempts
            ).update(**fields)
            return
        assignments = ", ".join(f"{name} = %s" for name in fields)
        with self.side.cursor() as cursor:
            cursor.execute(
                f"UPDATE devices_importrun SET {assignments} "  # noqa: S608 - the names are ImportRun's field names
                "WHERE id = %s AND status = %s AND attempts = %s",
                [*fields.values(), self.run.pk, ImportRun.Status.RUNNING, self.run.attempts],
            )

    def close(self) -> None:
        if self.side is not None:
            self.side.close()


def import_run_finish(
    run: ImportRun,
    *,
    status: str,
    failure: str = "",
    unreadable: bool = False,
    counts: dict | None = None,
    sink: ErrorSink | None = None,
    applied: bool = False,
    field_changes: dict | None = None,
) -> ImportRun:
    """Record the outcome; compare-and-swap from running (this attempt's) so it
    happens once. A failure is written on a fresh connection: the one the import
    used may be why it failed (its backend terminated, the server restarted). The
    counts of an attempt that took over, or of a failure, come from the events the
    run's attempts wrote, so they say what landed."""
    fields = {
        "status": status,
        "finished_at": timezone.now(),
        "lease_expires_at": None,
        "failure_message": failure,
        "file_unreadable": unreadable,
        "applied": applied,
        "warnings": run.warnings,
    }
    if counts is not None:
        fields.update(
            created_count=counts["created"],
            updated_count=counts["updated"],
            unchanged_count=counts["unchanged"],
            rejected_count=counts["rejected"],
            rows_processed=run.rows_total,
        )
    if field_changes is not None:
        fields["field_changes"] = dict(sorted(field_changes.items()))
    if sink is not None:
        fields["error_sample"] = sink.sample
        report = sink.report()
        if report is not None:
            content, _marking = report
            with content:
                run.error_report.save(f"import-{run.pk}-errors.csv", content, save=False)
            fields["error_report"] = run.error_report.name

    def record() -> None:
        if _writes_devices(run) and (counts is None or run.attempts > 1):
            landed = landed_counts(run)
            fields.update(landed)
            if counts is not None:
                fields["unchanged_count"] = max(
                    0,
                    run.rows_total
                    - landed["created_count"]
                    - landed["updated_count"]
                    - counts["rejected"],
                )
                if run.attempts > 1:
                    fields["warnings"] = [*run.warnings, _taken_over_note(run)]
            elif landed["created_count"] or landed["updated_count"]:
                fields["applied"] = True
        ImportRun.objects.filter(
            pk=run.pk, status=ImportRun.Status.RUNNING, attempts=run.attempts
        ).update(**fields)
        run.refresh_from_db()

    if status == ImportRun.Status.FAILED:
        leases.on_fresh_connection(record)
    else:
        record()
    return run


def _writes_devices(run: ImportRun) -> bool:
    """A valid-rows import that writes (not a dry run): its batches commit one by one,
    so an attempt that stopped may have landed some."""
    return run.mode == ImportRun.Mode.VALID_ROWS and not run.dry_run


def landed_counts(run: ImportRun) -> dict[str, int]:
    """Devices this run created and updated, over all its attempts, from the events
    its batches wrote with them (``source`` ``import:<id>``, in the same transaction)."""
    events = DeviceEvent.objects.filter(source=run.source, occurred_at__gte=run.created_at)
    created = events.filter(kind=DeviceEvent.Kind.IMPORTED).values("device_id")
    updated = (
        events.filter(kind=DeviceEvent.Kind.UPDATED)
        .exclude(device_id__in=created)
        .values("device_id")
        .distinct()
    )
    return {"created_count": created.count(), "updated_count": updated.count()}


def _taken_over_note(run: ImportRun) -> str:
    return (
        f"Attempt {run.attempts} took over after an earlier attempt stopped; the rows "
        "that attempt wrote count as created or updated here, not as unchanged."
    )


def import_run_submit(
    *,
    upload,
    actor,
    mode: str,
    mapping: str,
    dry_run: bool,
    record_exceptions: bool = False,
) -> ImportRun:
    """The browser page's import: store the upload, record the run and queue its
    task after the commit (so the worker never looks for a run not yet saved)."""
    with transaction.atomic():
        run = import_run_create(
            file_name=upload.name,
            upload=upload,
            actor=actor,
            mode=mode,
            mapping=mapping,
            dry_run=dry_run,
            origin=ImportRun.Origin.WEB,
            record_exceptions=record_exceptions,
        )
        import_run_enqueue(run=run)
    return run


# --- the reaper -------------------------------------------------------------------


def import_runs_reap(*, now=None) -> dict[str, int]:
    """One pass of the reaper over import runs (beat, ``import_runs_reap_task``).

    - ``running`` with a lapsed lease (its worker died mid-import): a browser import
      is queued again and its wake-up sent (the next attempt takes it over); one from
      the import_estate command (its file is on the operator's machine), or one out
      of attempts, is failed with the reason and the counts of what landed.
    - ``queued`` and unclaimed for RUN_QUEUED_STALE_SECONDS (its message was lost):
      the wake-up is sent again; a command's run that never started is failed.

    Each change is a compare-and-swap on what was read, so two reapers never both act
    and a worker finishing at that moment wins.
    """
    now = now or timezone.now()
    outcome = {"requeued": 0, "woken": 0, "failed": 0}
    stranded = ImportRun.objects.filter(
        Q(status=Status.RUNNING) & leases.lapsed(now, unleased_after=UNLEASED_AFTER)
    )
    for run in stranded:
        this = ImportRun.objects.filter(
            Q(pk=run.pk, status=Status.RUNNING, attempts=run.attempts)
            & leases.lapsed(now, unleased_after=UNLEASED_AFTER)
        )
        lapsed_at = run.lease_expires_at or run.started_at
        stopped = (
            f"The import stopped without an outcome: the process running attempt "
            f"{run.attempts} was lost (its lease lapsed at "
            f"{timezone.localtime(lapsed_at):%H:%M:%S})."
        )
        if _retakeable(run):
            with transaction.atomic():
                if this.update(status=Status.QUEUED, lease_expires_at=None, woken_at=now):
                    _wake(run.pk)
                    outcome["requeued"] += 1
                    logger.warning("Import run %s: %s Queued again.", run.pk, stopped)
            continue
        if _fail(run, this, f"{stopped} {_advice(run)}"):
            outcome["failed"] += 1
    stale = leases.queued_stale_before(now)
    waiting = ImportRun.objects.filter(
        Q(status=Status.QUEUED)
        & leases.free(now)
        & (Q(woken_at__lt=stale) | Q(woken_at__isnull=True, created_at__lt=stale))
    )
    for run in waiting:
        this = ImportRun.objects.filter(
            Q(pk=run.pk, status=Status.QUEUED, attempts=run.attempts, woken_at=run.woken_at)
            & leases.free(now)
        )
        if _retakeable(run):
            with transaction.atomic():
                if this.update(woken_at=now):
                    _wake(run.pk)
                    outcome["woken"] += 1
            continue
        never = "The import never started: nothing took it from the queue."
        if _fail(run, this, f"{never} {_advice(run)}", started=False):
            outcome["failed"] += 1
    if any(outcome.values()):
        logger.warning("Import reaper: %s", outcome)
    return outcome


def _retakeable(run: ImportRun) -> bool:
    """A worker can take it over: its file is stored and it has attempts left."""
    return (
        run.origin == ImportRun.Origin.WEB
        and bool(run.file)
        and run.attempts < leases.max_attempts()
    )


def _advice(run: ImportRun) -> str:
    if run.origin != ImportRun.Origin.WEB or not run.file:
        where = "Run the import_estate command again"
    else:
        where = f"Gave up after {run.attempts} attempts. Import the file again"
    if _writes_devices(run):
        return f"{where}: whole batches it wrote stand, and rows already written show as unchanged."
    return f"{where}: it changed nothing."


def _fail(run: ImportRun, this, message: str, *, started: bool = True) -> bool:
    fields = {
        "status": Status.FAILED,
        "finished_at": timezone.now(),
        "lease_expires_at": None,
        "failure_message": message,
    }
    if not started:
        fields["started_at"] = None
    if started and _writes_devices(run):
        landed = landed_counts(run)
        fields.update(landed, applied=bool(landed["created_count"] or landed["updated_count"]))
    failed = this.update(**fields)
    if failed:
        logger.warning("Import run %s failed: %s", run.pk, message)
    return bool(failed)


def _wake(run_id: int) -> None:
    from devices.tasks import import_estate_task

    transaction.on_commit(lambda: background.dispatch(import_estate_task, run_id), robust=True)
