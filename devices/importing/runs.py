"""The record of an estate import (``ImportRun``): created and queued, its progress
while it runs, its row errors (a sample for the page and the full report file),
and its outcome. Running the rows through the upsert is
``devices.importing.services.import_run_execute``."""

from __future__ import annotations

import csv
import hashlib
import io
import tempfile
from pathlib import Path

from django.core.files import File
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone

from core.errors import DomainError
from core.exports import classification, write_csv
from devices.importing import values as v
from devices.importing.mappings import MAPPINGS
from devices.importing.rows import MODES
from devices.models import ImportRun

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
    """Queue the run's Celery task once the run's row is committed."""
    from devices.tasks import import_estate_task

    transaction.on_commit(lambda: import_estate_task.delay(run.pk))


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
    on the run (only while it is still running, so a run marked failed by
    someone else is never revived).

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
        if self.side is None:
            ImportRun.objects.filter(pk=self.run.pk, status=ImportRun.Status.RUNNING).update(
                **fields
            )
            return
        assignments = ", ".join(f"{name} = %s" for name in fields)
        with self.side.cursor() as cursor:
            cursor.execute(
                f"UPDATE devices_importrun SET {assignments} WHERE id = %s AND status = %s",  # noqa: S608 - the names are ImportRun's field names
                [*fields.values(), self.run.pk, ImportRun.Status.RUNNING],
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
    """Record the outcome; compare-and-swap from running so it happens once."""
    fields = {
        "status": status,
        "finished_at": timezone.now(),
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
    ImportRun.objects.filter(pk=run.pk, status=ImportRun.Status.RUNNING).update(**fields)
    run.refresh_from_db()
    return run


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
