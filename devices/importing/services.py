"""Writes of the estate import: the shared upsert (``devices_upsert_rows``, the bulk
API's way in) and the running of an import file through it, batch by batch
(``import_run_execute``). The run's record (create, queue, progress, errors,
outcome) is ``devices.importing.runs``; its entry points are re-exported here."""

from __future__ import annotations

import itertools
import queue
import threading
from collections import deque
from contextlib import nullcontext, suppress

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone

from devices.importing.limits import rows_within
from devices.importing.moves import moving_rows, write_moves
from devices.importing.reading import FileUnreadable, open_table
from devices.importing.runs import (
    ErrorSink,
    RunProgress,
    import_run_create,
    import_run_enqueue,
    import_run_finish,
    import_run_heartbeat,
    import_run_reserve,
    import_run_submit,
)
from devices.importing.upsert import (
    CANONICAL_COLUMNS,
    DUPLICATE_CELLS,
    MODES,
    REQUIRED_COLUMNS,
    Lookups,
    RowResult,
    UpsertOutcome,
    apply_batch,
    batch_outcome,
    find_duplicate_cells,
    parse_batch,
    prepare_write,
    resolve_batch,
    stage_rows,
    upsert_batch,
    validate_batch,
    write_staged,
    writer_connection_prepare,
)
from devices.models import ImportRun
from devices.signals import ChangedDevices, estate_changed_announce

__all__ = [
    "CANONICAL_COLUMNS",
    "MODES",
    "REQUIRED_COLUMNS",
    "RowResult",
    "UpsertOutcome",
    "devices_upsert_rows",
    "import_run_create",
    "import_run_enqueue",
    "import_run_execute",
    "import_run_submit",
]


def devices_upsert_rows(
    *,
    rows: list[dict[str, object]],
    actor,
    source: str,
    mode: str = "valid-rows",
    dry_run: bool = False,
    record_exceptions: bool = False,
) -> UpsertOutcome:
    """Create or update devices from rows keyed by the import's column names.

    The API's bulk endpoint's way into the importer's upsert (``upsert_batch``,
    which file imports call batch by batch), with the importer's rules. Devices
    match on manufacturer (case-insensitive) + exact serial number, or, for a row
    without a serial number, on the asset tag (unique across the estate): a new one is
    recorded by its tag alone, and a later row with that tag and a serial records the
    serial; a serial number and an asset tag naming different devices is an error
    naming both.
    Unknown makers/models are created (category from the row); an unknown
    business unit or staff number, a status move the status machine
    forbids (``ALLOWED_TRANSITIONS``), an assignment outside deployed/in repair,
    an asset tag already on another device, a unit outside the actor's scope and
    a key repeated in ``rows`` are row errors naming the field.

    Every created or changed device gets an ``imported``/``updated`` event with
    ``source`` and the changed fields old → new, and its ``version`` increments;
    a status move goes through the one status mover (``devices.importing.moves``:
    the move's own event and history row). Unchanged rows write nothing, so
    repeating a call is a no-op.

    A column absent from a row, or blank, leaves that field alone; the
    ``[clear]`` marker clears it (``rows.CLEAR_MARKER``). ``mode="valid-rows"``
    writes the good rows; ``"all-or-nothing"`` writes nothing if any row has an
    error. ``dry_run`` validates and counts only. Runs
    in one transaction (a savepoint if the caller has one open). Results carry
    ``index`` = position in ``rows``.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    outcome = upsert_batch(
        rows=rows,
        indexes=None,
        actor=actor,
        source=source,
        mode=mode,
        dry_run=dry_run,
        lookups=Lookups(actor=actor, record_exceptions=record_exceptions),
    )
    if outcome.applied and (outcome.created or outcome.updated):
        estate_changed_announce(trigger=source, actor=actor, device_ids=outcome.changed_ids)
    return outcome


# ---------------------------------------------------------------- import files

# Rows per batch: big enough that the per-batch queries and the COPY amortise,
# small enough that a batch's Python objects stay a few tens of MB. With the
# pipelined write, 10,000 beat 20,000 (100k rows: 4.7-4.8 s vs 5.0-5.2 s; the
# first batch's validation and the last batch's write are not overlapped) and
# equalled it at 1M rows; larger batches only cost memory.
BATCH_SIZE = 10_000
# The first and last batch of a pipelined import (see _pipelined_batch_sizes).
EDGE_BATCH_SIZE = 2_000
WRITERS = 2  # batches written at once by the pipelined PostgreSQL import


def _batches(rows, size):
    """Rows in batches of ``size`` rows, or of the successive sizes ``size``
    yields when it is an iterator."""
    sizes = itertools.repeat(size) if isinstance(size, int) else size
    limit = next(sizes)
    batch_numbers, batch_rows = [], []
    for number, row in rows:
        batch_numbers.append(number)
        batch_rows.append(row)
        if len(batch_rows) >= limit:
            yield batch_numbers, batch_rows
            batch_numbers, batch_rows = [], []
            limit = next(sizes)
    if batch_rows:
        yield batch_numbers, batch_rows


def _pipelined_batch_sizes(total: int):
    """Batch sizes for the pipelined write: a small first and last batch.

    Only the first batch's validation (nothing to overlap it with yet) and the
    last batch's write (nothing left to validate) run alone; everything between
    overlaps. Making those two batches small shortens the unoverlapped ends
    (measured: 100,000 rows, see bench/RESULTS.md). ``total`` is the first
    pass's row count; sizes carry on at BATCH_SIZE should the file hold more.
    """
    edge = min(EDGE_BATCH_SIZE, BATCH_SIZE)
    yield edge
    remaining = total - edge
    while remaining > BATCH_SIZE + edge:
        yield BATCH_SIZE
        remaining -= BATCH_SIZE
    if remaining > edge:
        yield remaining - edge
    yield edge
    yield from itertools.repeat(BATCH_SIZE)


def import_run_work(*, run_id: int, path=None) -> ImportRun | None:
    """What every worker of an import does, the Celery task and ``manage.py
    import_estate`` alike: reserve the run (``import_run_reserve``: None if another
    worker holds it or it has finished), then execute it while a heartbeat renews
    its lease, so the reaper never takes over a run that is still being worked."""
    run = import_run_reserve(run_id=run_id)
    if run is None:
        return None
    with import_run_heartbeat(run):
        return import_run_execute(run=run, path=path)


def import_run_execute(*, run: ImportRun, path=None) -> ImportRun:
    """Run a queued import to the end: read, validate, upsert, record.

    The file is streamed in batches (bounded memory); a file
    that cannot be read changes nothing (``file_unreadable``); in valid-rows mode
    each batch is one transaction, so a crash keeps whole batches only; in
    all-or-nothing mode the whole import is one transaction, rolled back when
    any row is rejected. Either way a crash leaves the run marked failed.
    The run is claimed with a compare-and-swap (queued -> running), so a task
    delivered twice runs once.
    """
    claimed = ImportRun.objects.filter(pk=run.pk, status=ImportRun.Status.QUEUED).update(
        status=ImportRun.Status.RUNNING, started_at=timezone.now()
    )
    run.refresh_from_db()
    if not claimed:
        return run
    sink = ErrorSink()
    progress = None
    try:
        if path is None:
            path = run.file.path
        try:
            table = open_table(path, mapping=run.mapping)
            # First pass: duplicates across the whole file and the row count
            # (for progress), before anything is written; a file past
            # IMPORT_MAX_ROWS is refused here, at the first row beyond it.
            dup_keys, dup_tags, total = find_duplicate_cells(
                rows_within(table.cells(DUPLICATE_CELLS))
            )
            duplicates = (dup_keys, dup_tags)
        except FileUnreadable as problem:
            return import_run_finish(
                run, status=ImportRun.Status.FAILED, failure=problem.message, unreadable=True
            )
        run.warnings = list(table.warnings)
        run.rows_total = total
        ImportRun.objects.filter(pk=run.pk).update(rows_total=total, warnings=run.warnings)
        all_or_nothing = run.mode == ImportRun.Mode.ALL_OR_NOTHING and not run.dry_run
        # A second connection only from autocommit: inside a caller's open
        # transaction the run's row may be locked by this connection, and the
        # side connection would wait on it forever.
        progress = RunProgress(
            run, side_connection=all_or_nothing and not connection.in_atomic_block
        )
        counts = {"created": 0, "updated": 0, "unchanged": 0, "rejected": 0}
        field_changes: dict[str, int] = {}
        changed = ChangedDevices()
        try:
            with transaction.atomic() if all_or_nothing else nullcontext():
                _import_batches(
                    run,
                    table,
                    duplicates,
                    counts,
                    sink,
                    progress,
                    all_or_nothing,
                    field_changes,
                    changed,
                )
                applied = not run.dry_run and not (all_or_nothing and counts["rejected"])
                if all_or_nothing and counts["rejected"]:
                    raise _Rollback
        except _Rollback:
            applied = False
        except FileUnreadable as problem:
            # An encoding error deep in the file: whole batches before it stand
            # in valid-rows mode (they were whole and valid), and the run says so.
            return import_run_finish(
                run,
                status=ImportRun.Status.FAILED,
                failure=problem.message,
                unreadable=True,
                counts=counts,
                sink=sink,
                applied=counts["created"] + counts["updated"] > 0,
                field_changes=field_changes,
            )
        run = import_run_finish(
            run,
            status=ImportRun.Status.SUCCEEDED,
            counts=counts,
            sink=sink,
            applied=applied,
            field_changes=field_changes,
        )
        if applied and (counts["created"] or counts["updated"]):
            # Only the devices this import changed (the whole estate past a limit).
            estate_changed_announce(trigger="import", actor=run.created_by, device_ids=changed.ids)
        return run
    except Exception as error:
        import_run_finish(
            run, status=ImportRun.Status.FAILED, failure=f"The import stopped: {error}"
        )
        raise
    finally:
        sink.close()
        if progress is not None:
            progress.close()


class _Rollback(Exception):
    pass


def _prefetched(items, *, depth: int = 1):
    """Iterate ``items`` in a background thread, ``depth`` items ahead.

    The file importer parses the next batch (pure Python, no database) while
    the main thread waits on PostgreSQL for the current one; the wait releases
    the GIL, so on two cores the parse costs almost nothing. Exceptions in the
    producer (a file that turns unreadable half-way) are re-raised here.
    """
    done = object()
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry) -> bool:
        while not stop.is_set():
            try:
                slots.put(entry, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False  # the consumer has gone

    def produce():
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((done, None))
        except BaseException as error:  # handed to the consumer, never lost
            put((None, error))

    worker = threading.Thread(target=produce, name="import-parse", daemon=True)
    worker.start()
    try:
        while True:
            item, error = slots.get()
            if error is not None:
                raise error
            if item is done:
                return
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)


def _import_batches(
    run, table, duplicates, counts, sink, progress, all_or_nothing, field_changes, changed
) -> None:
    lookups = Lookups(actor=run.created_by, record_exceptions=run.record_exceptions)
    state = {"processed": 0}

    def parsed_batches(sizes=BATCH_SIZE):
        for numbers, rows in _batches(table.rows(), sizes):
            yield numbers, rows, parse_batch(rows=rows, indexes=numbers, duplicates=duplicates)

    def record(numbers, rows, outcome) -> None:
        for key in counts:
            counts[key] += getattr(outcome, key)
        for name, n in outcome.field_changes.items():
            field_changes[name] = field_changes.get(name, 0) + n
        changed.add(outcome.changed_ids)
        if outcome.rejected:
            by_number = dict(zip(numbers, rows, strict=True))
            for result in outcome.results:
                for column, messages in result.errors.items():
                    for message in messages:
                        sink.add(
                            row=result.index,
                            column=column,
                            value=by_number[result.index].get(column),
                            reason=message,
                            code=result.codes.get(column, ""),
                        )
        state["processed"] += len(rows)
        # One cheap UPDATE of the run per batch, for the progress bar.
        progress.update(
            rows_processed=min(state["processed"], run.rows_total),
            created_count=counts["created"],
            updated_count=counts["updated"],
            unchanged_count=counts["unchanged"],
            rejected_count=counts["rejected"],
        )

    if (
        connection.vendor == "postgresql"
        and run.mode == ImportRun.Mode.VALID_ROWS
        and not run.dry_run
        and not connection.in_atomic_block
        # Recorded exceptions are written with their batch on the main connection.
        and not run.record_exceptions
    ):
        sizes = _pipelined_batch_sizes(run.rows_total)
        _import_batches_pipelined(run, parsed_batches(sizes), lookups, record)
        return

    for numbers, rows, parsed in _prefetched(parsed_batches()):
        # After the first rejected row an all-or-nothing import only validates
        # (it will be rolled back), so the report still lists every error.
        validate_only = run.dry_run or (all_or_nothing and counts["rejected"] > 0)
        outcome = apply_batch(
            parsed=parsed,
            actor=run.created_by,
            source=run.source,
            mode=run.mode,
            dry_run=validate_only,
            lookups=lookups,
        )
        record(numbers, rows, outcome)


class _Writer:
    """One batch's write (COPY, upsert + events, commit) on a background thread,
    through a writer connection of the import's own (one per batch in flight).

    While it runs, the main thread looks up and validates the next batch on
    the main connection; the write waits on PostgreSQL with the GIL released,
    so on two cores both proceed. The batch is one transaction of its own
    (valid-rows mode: a crash keeps whole batches only).
    """

    def __init__(self, raw, staged, *, actor, source):
        self.error: BaseException | None = None
        chunks, by_index = staged

        def work():
            try:
                with raw.transaction():
                    write_staged(chunks, by_index, actor=actor, source=source, raw_connection=raw)
            except BaseException as error:  # re-raised by join(), never lost
                self.error = error

        self.thread = threading.Thread(target=work, name="import-write", daemon=True)
        self.thread.start()

    def join(self) -> None:
        self.thread.join()
        if self.error is not None:
            raise self.error


def _import_batches_pipelined(run, batches, lookups, record) -> None:
    """Valid-rows import on PostgreSQL: up to WRITERS batches are written at
    once (each on a connection of its own, by a writer thread) while the next
    batch is looked up and validated on the main connection.

    Each batch is one transaction; batches never touch the same device
    (duplicate keys across the file are errors), so concurrent writes cannot
    conflict. The lookups of a batch may read the estate before the batches in
    flight committed; the one thing those can change that its checks read is
    which device holds an asset tag. So if a batch in flight moved any asset
    tag, every batch in flight is waited for and the checks run again, exactly
    as a sequential import would see them. New makers and models are created
    (and committed) on the main connection before their batch's write starts,
    so the writers' foreign keys and later batches see them.
    """
    actor, source = run.created_by, run.source
    sides = []  # the writers' Django connections, opened as needed
    idle = []  # their psycopg connections, free for a write
    in_flight: deque = deque()  # (numbers, rows, parsed, writes, writer, raw)

    def prepared(parsed):
        """Validated rows to their write: new makers/models created, COPY text
        formatted here on the main thread, so the writer only waits on SQL. Rows
        that move a device's status are left out of the COPY: they go through the
        one status mover on this connection when the batch's write starts."""
        writes = prepare_write(parsed, lookups)
        moving = moving_rows(writes)
        moving_ids = set(map(id, moving))
        copied = [row for row in writes if id(row) not in moving_ids]
        return writes, (copied, moving, stage_rows(copied, lookups=lookups) if copied else None)

    def finish_oldest() -> None:
        numbers, rows, parsed, writes, writer, raw = in_flight.popleft()
        if writer is not None:
            try:
                writer.join()
            finally:
                idle.append(raw)  # free again: its transaction has ended either way
        record(numbers, rows, batch_outcome(parsed, applied=True, errors_only=True))

    def start_writing(numbers, rows, parsed, writes, staged) -> None:
        copied, moving, staged = staged
        if moving:
            # Committed before the batch's COPY write starts: batches never touch
            # the same device, and a failure here fails the run as a write would.
            with transaction.atomic():
                write_moves(moving, actor=actor, source=source)
        writer = raw = None
        if copied:
            if not idle:
                side = connections.create_connection(DEFAULT_DB_ALIAS)
                side.ensure_connection()
                sides.append(side)
                writer_connection_prepare(side.connection)
                idle.append(side.connection)  # psycopg's: usable from any thread
            raw = idle.pop()
            writer = _Writer(raw, staged, actor=actor, source=source)
        in_flight.append((numbers, rows, parsed, writes, writer, raw))

    try:
        for numbers, rows, parsed in _prefetched(batches):
            # Parse errors, to start from should the checks have to run again.
            saved = {
                i: {k: list(m) for k, m in row.errors.items()}
                for i, row in enumerate(parsed)
                if row.errors
            }
            validate_batch(parsed, lookups, resolve_batch(parsed, lookups))
            writes, staged = prepared(parsed)
            if any(
                row.changed and "asset_tag" in row.changed
                for batch in in_flight
                for row in batch[3]
            ):
                while in_flight:
                    finish_oldest()
                for i, row in enumerate(parsed):
                    row.reset(saved.get(i, {}))
                validate_batch(parsed, lookups, resolve_batch(parsed, lookups))
                writes, staged = prepared(parsed)
            while len(in_flight) >= WRITERS:
                finish_oldest()
            start_writing(numbers, rows, parsed, writes, staged)
        while in_flight:
            finish_oldest()
    except BaseException:
        # Batches already being written are whole transactions of their own:
        # wait for them and count those that landed (an unreadable file's
        # earlier batches stand, as in the sequential import), then fail.
        while in_flight:
            with suppress(Exception):  # the first failure is the one raised
                finish_oldest()
        raise
    finally:
        for side in sides:
            side.close()
