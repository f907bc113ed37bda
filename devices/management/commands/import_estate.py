"""``manage.py import_estate PATH``: import the estate from a CSV or XLSX export.

Exit status: 0 every row applied, 1 any row rejected (or the run failed),
2 the file itself could not be read (encoding, missing required column, empty) or is
past the import's limits (size, rows, expanded XLSX size, XML declarations: refused
before anything is recorded or written).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from devices.importing.errors import ImportRefused
from devices.importing.mappings import MAPPINGS
from devices.importing.reading import check_limits
from devices.importing.services import import_run_create, import_run_work
from devices.models import ImportRun


class Command(BaseCommand):
    help = "Import devices from a CSV or XLSX file (upsert by manufacturer + serial number)."

    def add_arguments(self, parser):
        parser.add_argument("path", help="CSV or XLSX file")
        parser.add_argument("--dry-run", action="store_true", help="validate and report only")
        parser.add_argument(
            "--mode",
            choices=[m.value for m in ImportRun.Mode],
            default=ImportRun.Mode.VALID_ROWS,
            help="valid-rows (default): good rows land; all-or-nothing: any error changes nothing",
        )
        parser.add_argument("--mapping", choices=sorted(MAPPINGS), default="default")
        parser.add_argument("--error-report", metavar="OUT.csv", help="write the row errors here")
        parser.add_argument("--user", metavar="USERNAME", help="record the import as this user")
        parser.add_argument(
            "--record-exceptions",
            action="store_true",
            help="first migration of an existing estate: record each entitlement exceedance "
            "as an exception awaiting review instead of rejecting the row",
        )

    def handle(self, *args, **options):
        path = Path(options["path"])
        if not path.is_file():
            self.stderr.write(f"File not found: {path}")
            sys.exit(2)
        actor = None
        if options["user"]:
            actor = get_user_model().objects.filter(username=options["user"]).first()
            if actor is None:
                raise CommandError(f"No user called {options['user']!r}.")
        try:
            check_limits(path, mapping=options["mapping"])
        except ImportRefused as refusal:
            self.stderr.write(f"The file was refused: {refusal.message} Nothing was changed.")
            sys.exit(2)
        run = import_run_create(
            file_name=path.name,
            path=path,
            actor=actor,
            mode=options["mode"],
            mapping=options["mapping"],
            dry_run=options["dry_run"],
            origin=ImportRun.Origin.COMMAND,
            record_exceptions=options["record_exceptions"],
        )
        try:
            # Reserved and leased like a worker's run, so the reaper leaves it alone.
            worked = import_run_work(run_id=run.pk, path=path)
        except Exception as error:
            self.stderr.write(f"Import {run.pk} failed: {error}")
            sys.exit(1)
        if worked is None:
            run.refresh_from_db()
            self.stderr.write(f"Import {run.pk} was taken by another worker ({run.status}).")
            sys.exit(1)
        run = worked
        for warning in run.warnings:
            self.stdout.write(f"Warning: {warning}")
        if run.file_unreadable:
            self.stderr.write(f"Import {run.pk}: the file could not be read. {run.failure_message}")
            sys.exit(2)
        if run.status == ImportRun.Status.FAILED:
            self.stderr.write(f"Import {run.pk} failed: {run.failure_message}")
            sys.exit(1)
        self.stdout.write(
            f"Import {run.pk}{' (dry run)' if run.dry_run else ''}: {run.rows_total} rows; "
            f"created {run.created_count}, updated {run.updated_count}, "
            f"unchanged {run.unchanged_count}, rejected {run.rejected_count}."
        )
        if run.field_changes:
            changed = ", ".join(f"{name} {n}" for name, n in run.field_changes.items())
            verb = "would change" if run.dry_run else "changed"
            self.stdout.write(f"Fields {verb} (rows): {changed}.")
        if run.rejected_count:
            for error in run.error_sample[:10]:
                self.stdout.write(f"  row {error['row']}, {error['column']}: {error['reason']}")
            if run.rejected_count and not run.applied and not run.dry_run:
                self.stdout.write("Nothing was changed (all-or-nothing).")
        if options["error_report"] and run.error_report:
            with run.error_report.open("rb") as source, open(options["error_report"], "wb") as out:
                shutil.copyfileobj(source, out)
            self.stdout.write(f"Error report written to {options['error_report']}.")
        elif options["error_report"]:
            self.stdout.write("No row errors, so no error report was written.")
        sys.exit(1 if run.rejected_count else 0)
