"""The one upsert core shared by the file importer and the API's bulk endpoint.

Rows are dicts keyed by the canonical column names with raw values. A batch is
handled set-based in four steps, never a query per row:

1. parse every row in Python (``devices.importing.values``);
2. resolve business units, manufacturers and models (loaded once per import),
   people, existing devices and asset tags with a few ``IN`` queries per batch;
3. validate each row against what it resolved to: unknown unit or staff number,
   asset tag on another device, status move outside ``ALLOWED_TRANSITIONS``,
   assignment outside deployed/in repair, duplicates in the input;
4. write only new and changed rows, set-based: on PostgreSQL a ``COPY`` into a
   temporary staging table, one ``INSERT ... ON CONFLICT DO UPDATE`` and the
   events by ``INSERT ... SELECT``; elsewhere ``bulk_create``/``bulk_update``.
   Rows that move a device to another status go through the one status mover
   (``devices.importing.moves``) instead. Unchanged rows write nothing, so
   re-running a file is a no-op.

Step 1 is ``devices.importing.rows``, steps 2 and 3 ``devices.importing.validation``,
step 4 ``devices.importing.copy_write`` (PostgreSQL) or ``devices.importing.orm_write``,
and ``devices.importing.moves`` for status moves;
this module runs a batch through them in one transaction and creates the new
makers and models both writes need. The names callers use are re-exported here.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.utils import timezone

from devices.importing.copy_write import (
    stage_rows,
    write_postgres,
    write_staged,
    writer_connection_prepare,
)
from devices.importing.moves import moving_rows, write_moves
from devices.importing.orm_write import write_orm
from devices.importing.rows import (
    CANONICAL_COLUMNS,
    DUPLICATE_CELLS,
    MODES,
    REQUIRED_COLUMNS,
    ParsedRow,
    RowResult,
    UpsertOutcome,
    duplicate_key,
    find_duplicate_cells,
    find_duplicates,
    parse_batch,
)
from devices.importing.validation import (
    Lookups,
    resolve_and_validate,
    resolve_batch,
    validate_batch,
)
from devices.models import DeviceModel, EntitlementException, Manufacturer

__all__ = [
    "CANONICAL_COLUMNS",
    "DUPLICATE_CELLS",
    "MODES",
    "REQUIRED_COLUMNS",
    "Lookups",
    "RowResult",
    "UpsertOutcome",
    "apply_batch",
    "batch_outcome",
    "duplicate_key",
    "find_duplicate_cells",
    "find_duplicates",
    "parse_batch",
    "prepare_write",
    "resolve_batch",
    "stage_rows",
    "upsert_batch",
    "validate_batch",
    "write_postgres",
    "write_staged",
    "writer_connection_prepare",
]


def upsert_batch(
    *,
    rows: list[dict],
    indexes: list[int] | None,
    actor,
    source: str,
    mode: str,
    dry_run: bool,
    lookups: Lookups,
    duplicates: tuple[set, set] | None = None,
) -> UpsertOutcome:
    """Validate and (unless ``dry_run``) write one batch in one transaction.

    In all-or-nothing mode a batch with any error writes nothing; the caller
    decides whether to roll back earlier batches too (the file importer runs all
    batches in one outer transaction for that mode).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    if indexes is None:
        indexes = list(range(len(rows)))
    if duplicates is None:
        duplicates = find_duplicates(rows)
    parsed = parse_batch(rows=rows, indexes=indexes, duplicates=duplicates)
    return apply_batch(
        parsed=parsed,
        actor=actor,
        source=source,
        mode=mode,
        dry_run=dry_run,
        lookups=lookups,
    )


def apply_batch(
    *, parsed: list, actor, source: str, mode: str, dry_run: bool, lookups: Lookups
) -> UpsertOutcome:
    """Steps 2-4 for parsed rows: resolve, validate and write in one transaction."""
    with transaction.atomic():
        resolve_and_validate(parsed, lookups)
        has_errors = any(row.errors for row in parsed)
        write = not dry_run and not (has_errors and mode == "all-or-nothing")
        if write:
            _write(parsed, lookups=lookups, actor=actor, source=source)
    return batch_outcome(parsed, applied=write)


def batch_outcome(parsed: list, *, applied: bool, errors_only: bool = False) -> UpsertOutcome:
    """Counts and per-row results of a validated (and maybe written) batch.
    ``errors_only``: results for rejected rows alone (the file importer reports
    counts and errors, and has no use for a result per good row)."""
    outcome = UpsertOutcome(results=[], applied=applied)
    results = outcome.results
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    field_changes = outcome.field_changes
    for row in parsed:
        if row.errors:
            results.append(RowResult(row.index, "error", None, row.errors, dict(row.codes)))
            continue
        kind = row.outcome if row.outcome in ("created", "updated") else "unchanged"
        counts[kind] += 1
        if kind != "unchanged" and row.device_id is not None:
            outcome.changed_ids.append(row.device_id)
        if kind == "updated" and row.changed:
            for name in row.changed:
                field_changes[name] = field_changes.get(name, 0) + 1
        if not errors_only:
            results.append(RowResult(row.index, kind, row.device_id, {}))
    outcome.created, outcome.updated = counts["created"], counts["updated"]
    outcome.unchanged = counts["unchanged"]
    outcome.rejected = len(parsed) - sum(counts.values())
    return outcome


def prepare_write(parsed: list[ParsedRow], lookups: Lookups) -> list[ParsedRow]:
    """The rows a validated batch will write, with their new makers and models
    created (through the ORM, on the caller's connection)."""
    writes = [row for row in parsed if not row.errors and row.final is not None]
    if writes:
        _create_makers_and_models(writes, lookups)
    return writes


def _write(parsed: list[ParsedRow], *, lookups: Lookups, actor, source: str) -> None:
    writes = prepare_write(parsed, lookups)
    if not writes:
        return
    # Status moves through the one mover; the rest set-based (COPY or bulk writes).
    moving = moving_rows(writes)
    moved = write_moves(moving, actor=actor, source=source)
    if moving:
        moving_ids = set(map(id, moving))
        writes = [row for row in writes if id(row) not in moving_ids]
    if writes:
        if connection.vendor == "postgresql":
            write_postgres(writes, lookups=lookups, actor=actor, source=source)
        else:
            write_orm(writes, lookups=lookups, actor=actor, source=source)
    exceptions_record([*writes, *moved], actor=actor, source=source)


def exceptions_record(writes: list[ParsedRow], *, actor, source: str) -> int:
    """With ``record_exceptions`` (a first migration of an existing estate), each
    person a batch put past their entitlement gets one exception per category,
    requested and awaiting review, for the devices beyond it (it counts for nothing
    until someone approves it). One insert per batch."""
    worst: dict[tuple[int, str], tuple[int, int]] = {}
    for row in writes:
        if row.exceedance is None or row.device_id is None:
            continue
        person_id, category, held, allowed = row.exceedance
        before = worst.get((person_id, category))
        if before is None or held > before[0]:
            worst[(person_id, category)] = (held, allowed)
    if not worst:
        return 0
    now = timezone.now()
    EntitlementException.objects.bulk_create(
        EntitlementException(
            person_id=person_id,
            category=category,
            extra_quantity=held - allowed,
            reason=(
                f"Recorded by {source}: holds {held} {category}(s), the role allows {allowed}. "
                "Review before approving."
            ),
            status=EntitlementException.Status.REQUESTED,
            requested_by=actor,
            requested_at=now,
        )
        for (person_id, category), (held, allowed) in sorted(worst.items())
    )
    return len(worst)


def _create_makers_and_models(writes: list[ParsedRow], lookups: Lookups) -> None:
    """Unknown makers and models become catalogue entries (category from the row)."""
    new_makers = {}
    for row in writes:
        if row.maker_key not in lookups.makers:
            new_makers.setdefault(row.maker_key, row.values["manufacturer"])
    if new_makers:
        # ignore_conflicts: a concurrent import may add the same maker; re-read.
        Manufacturer.objects.bulk_create(
            [Manufacturer(name=name) for name in new_makers.values()], ignore_conflicts=True
        )
        for pk, name in Manufacturer.objects.filter(name__in=list(new_makers.values())).values_list(
            "pk", "name"
        ):
            lookups.makers.setdefault(name.lower(), pk)
        lookups.load_models({lookups.makers[k] for k in new_makers})
    new_models: dict[tuple[int, str], DeviceModel] = {}
    for row in writes:
        if row.model_key is None:
            continue
        mid = lookups.makers[row.maker_key]
        known = lookups.models.get((mid, row.model_key[1]))
        if known is not None:
            row.final["device_model_id"] = known[0]
            continue
        new_models.setdefault(
            (mid, row.model_key[1]),
            DeviceModel(
                manufacturer_id=mid, name=row.values["model"], category=row.values["category"]
            ),
        )
    if new_models:
        DeviceModel.objects.bulk_create(list(new_models.values()), ignore_conflicts=True)
        lookups.makers_loaded.difference_update({mid for mid, _ in new_models})
        lookups.load_models({mid for mid, _ in new_models})
    for row in writes:
        if row.final["device_model_id"] is None:
            mid = lookups.makers[row.maker_key]
            row.final["device_model_id"] = lookups.models[(mid, row.model_key[1])][0]
        if (
            row.changed is not None
            and "model" in row.changed
            and row.final["device_model_id"] == row.existing["device_model_id"]
        ):
            del row.changed["model"]
