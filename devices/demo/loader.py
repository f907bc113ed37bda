"""Writing the demo estate's rows: ``COPY`` on PostgreSQL (into tables stripped of
their foreign keys, unique constraints and indexes, rebuilt once at the end),
``executemany`` elsewhere, blocks written on a worker thread while the next one
is generated."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager

from django.core.management.color import no_style
from django.db import connection

from devices.demo.generator import Block
from devices.demo.shape import DEVICE_COLUMNS, EVENT_COLUMNS, PERSON_COLUMNS
from devices.models import Device, DeviceEvent, Person


class RowWriter:
    """Writes row tuples: ``COPY`` on PostgreSQL, ``executemany`` elsewhere."""

    def __init__(self):
        self.postgres = connection.vendor == "postgresql"

    @staticmethod
    def _columns(model, names: Sequence[str]) -> list[str]:
        return [model._meta.get_field(name).column for name in names]

    def _converters(self, model, names) -> list[Callable | None]:
        ops = connection.ops
        out: list[Callable | None] = []
        for name in names:
            f = model._meta.get_field(name)
            internal = f.get_internal_type()
            if internal == "DateTimeField":
                out.append(ops.adapt_datetimefield_value)
            elif internal == "DateField":
                out.append(ops.adapt_datefield_value)
            elif internal == "DecimalField":
                out.append(str)
            else:
                out.append(None)
        return out

    def write(self, model, names: Sequence[str], rows: Iterable[tuple], raw=None) -> None:
        """``raw``: the psycopg connection, when called from the PostgreSQL writer thread
        (Django's connection handles are per thread; the transaction is the connection's)."""
        table = connection.ops.quote_name(model._meta.db_table)
        columns = ", ".join(connection.ops.quote_name(c) for c in self._columns(model, names))
        with raw.cursor() if raw is not None else connection.cursor() as cursor:
            if self.postgres:
                with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                converters = [
                    (i, conv) for i, conv in enumerate(self._converters(model, names)) if conv
                ]

                def converted():
                    for row in rows:
                        row = list(row)
                        for i, conv in converters:
                            if row[i] is not None:
                                row[i] = conv(row[i])
                        yield row

                placeholders = ", ".join(["%s"] * len(names))
                cursor.executemany(
                    f"INSERT INTO {table} ({columns}) VALUES ({placeholders})",  # noqa: S608
                    converted(),
                )

    def reset_sequences(self, models) -> None:
        statements = connection.ops.sequence_reset_sql(no_style(), models)
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)

    def write_block(self, block: Block, raw=None) -> None:
        # Parents before children: people, then devices (FK to people), then events.
        self.write(Person, PERSON_COLUMNS, block.people, raw)
        self.write(Device, DEVICE_COLUMNS, block.devices, raw)
        self.write(DeviceEvent, EVENT_COLUMNS, block.events, raw)


class DirectSink:
    """Writes each block as it comes (SQLite: one connection, nothing to overlap)."""

    def __init__(self, writer: RowWriter):
        self.writer = writer

    def put(self, block: Block) -> None:
        self.writer.write_block(block)

    def close(self) -> None:
        pass


class ThreadedSink:
    """Writes blocks on a worker thread while the main thread generates the next one.

    On PostgreSQL the server spends most of a block's time on index and foreign-key
    upkeep; overlapping that with Python generating the next block roughly halves the
    wall time on two cores. The queue holds at most one waiting block, so memory stays
    bounded at about three blocks (generating, waiting, writing). The worker uses the
    same psycopg connection, hence the same transaction; the main thread does not touch
    the database until ``close`` has joined the worker.
    """

    def __init__(self, writer: RowWriter):
        self.writer = writer
        connection.ensure_connection()
        self.raw = connection.connection
        self.queue: queue.Queue[Block | None] = queue.Queue(maxsize=1)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="seed-demo-copy", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (block := self.queue.get()) is not None:
            if self.error is None:
                try:
                    self.writer.write_block(block, self.raw)
                except BaseException as exc:  # handed to the main thread by put/close
                    self.error = exc

    def put(self, block: Block) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(block)

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error


@contextmanager
def postgres_bulk_load(models, *, log: Callable[[str], None]):
    """Load into empty tables the way PostgreSQL likes: without their foreign keys,
    unique constraints and plain indexes, rebuilt once at the end.

    Row-by-row upkeep of a dozen indexes and (deferred) foreign-key triggers costs
    far more than one index build and one validating join per constraint. It is all
    transactional DDL inside the seed's transaction, so a failure (a duplicate, a
    dangling reference) restores every constraint and index with the rollback.
    Primary keys stay in place throughout. The tables are locked until the commit:
    fine for an initial load.
    """
    tables = [model._meta.db_table for model in models]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, quote_ident(conname), pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE contype = 'f' AND conrelid = ANY(%s::regclass[]) "
            "ORDER BY 1, 2",
            [tables],
        )
        foreign_keys = cursor.fetchall()
        # Unique constraints too (serial numbers and staff numbers arrive in random order,
        # so keeping their b-trees up to date row by row thrashes the buffer cache), but
        # not one a foreign key depends on. Re-adding them re-checks uniqueness.
        cursor.execute(
            "SELECT u.conrelid::regclass::text, quote_ident(u.conname), "
            "pg_get_constraintdef(u.oid) FROM pg_constraint u "
            "WHERE u.contype = 'u' AND u.conrelid = ANY(%s::regclass[]) AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = u.conindid) "
            "ORDER BY 1, 2",
            [tables],
        )
        uniques = cursor.fetchall()
        cursor.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) "
            "ORDER BY 1",
            [tables],
        )
        indexes = cursor.fetchall()
        # Django's foreign keys are deferred; the reference data just written has
        # queued checks, and PostgreSQL refuses ALTER TABLE while checks are pending.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for table, name, _definition in foreign_keys + uniques:
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
        for name, _definition in indexes:
            cursor.execute(f"DROP INDEX {name}")
    yield
    with connection.cursor() as cursor:
        started = time.monotonic()
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for table, name, definition in uniques:
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
        for _name, definition in indexes:
            cursor.execute(definition)
        log(
            f"{len(uniques)} unique constraints and {len(indexes)} indexes rebuilt "
            f"in {time.monotonic() - started:.1f}s"
        )
        started = time.monotonic()
        for table, name, definition in foreign_keys:
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
        log(f"{len(foreign_keys)} foreign keys checked in {time.monotonic() - started:.1f}s")
        started = time.monotonic()
        # Back to Django's default (its foreign keys are INITIALLY DEFERRED) for whatever
        # else runs in this transaction, e.g. a test that seeds and then writes.
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        for table in tables:
            # Fresh statistics, so the apps' demo hooks that run next plan sensibly.
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
        log(f"analysed in {time.monotonic() - started:.1f}s")
