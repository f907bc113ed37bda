"""Reads of import runs, through who may see them."""

from __future__ import annotations

import csv
import io

from django.db.models import QuerySet

from accounts.roles import can_see_commercial
from accounts.scoping import unit_scope
from core.exports import FORMULA_TRIGGERS as TRIGGERS
from core.exports import OFFICIAL, OFFICIAL_SENSITIVE_COMMERCIAL, classification, csv_bytes
from devices.models import ImportRun

WITHHELD = "withheld (commercial)"


def import_run_list(*, user) -> QuerySet[ImportRun]:
    """Runs the user may see: every run for an estate-wide user, otherwise their
    own (a scoped asset manager's colleagues may import other units' devices)."""
    runs = ImportRun.objects.select_related("created_by").order_by("-created_at", "-id")
    if unit_scope(user).unrestricted:
        return runs
    return runs.filter(created_by=user)


def import_run_get(*, user, pk: int) -> ImportRun:
    """A run the user may see; ``ImportRun.DoesNotExist`` (a 404) otherwise."""
    return import_run_list(user=user).get(pk=pk)


def _redact(error: dict) -> dict:
    """A purchase cost quoted in an error is a commercial figure: the value is withheld,
    and so is any quotation of it in the reason (the parsers no longer quote a cost;
    runs recorded before may, with or without the spaces or the neutralising quote)."""
    if error.get("column") != "purchase_cost" or not error.get("value"):
        return error
    value = str(error["value"])
    reason = str(error.get("reason", ""))
    for quoted in sorted({value, value.strip(), value.lstrip("'").strip()}, key=len, reverse=True):
        if quoted:
            reason = reason.replace(quoted, "the value")
    return {**error, "value": WITHHELD, "reason": reason}


def import_run_errors_for(*, run: ImportRun, user) -> tuple[list[dict], str]:
    """The run's first errors as the user may see them, and the page marking."""
    commercial = can_see_commercial(user)
    errors = list(run.error_sample)
    if not commercial:
        errors = [_redact(e) for e in errors]
    shows_cost = commercial and any(
        e.get("column") == "purchase_cost" and e.get("value") for e in errors
    )
    return errors, classification(commercial=shows_cost)


def import_error_report(*, run: ImportRun, user) -> tuple[bytes, str]:
    """The full error report CSV for download and its marking: as stored for a user
    who may see commercial figures; otherwise with purchase costs withheld, and then
    marked OFFICIAL. The stored report is marked commercial when it quotes a cost."""
    with run.error_report.open("rb") as handle:
        data = handle.read()
    text = data.decode("utf-8-sig")
    lines = csv.reader(io.StringIO(text))
    marking_line = next(lines, [""])
    stored = (
        OFFICIAL_SENSITIVE_COMMERCIAL
        if marking_line and OFFICIAL_SENSITIVE_COMMERCIAL in marking_line[0]
        else OFFICIAL
    )
    if stored == OFFICIAL or can_see_commercial(user):
        return data, stored
    header = next(lines, [])
    rows = []
    for row in lines:
        record = dict(zip(header, row, strict=False))
        redacted = _redact(record)
        rows.append([redacted.get(h, "") for h in header])
    # The stored cells are already neutralised; csv_bytes would add a second
    # quote to a neutralised cell, so strip the first one back off.
    rows = [[c[1:] if c.startswith("'") and c[1:2] in TRIGGERS else c for c in row] for row in rows]
    return csv_bytes(header=header, rows=rows, marking=OFFICIAL), OFFICIAL
