"""Reading the stewardship figures' sections on two PostgreSQL connections at once.

The sections are independent grouped reads. On one connection they run one after the
other (~1.1 s at 1,000,000 devices); split between two connections, each on its own
core, they take about half as long. The figures must still be one consistent picture
of the estate, as if read in one transaction: the caller's connection opens a
REPEATABLE READ transaction and exports its snapshot (``pg_export_snapshot()``), and a
second connection, on a thread of its own, imports that snapshot
(``SET TRANSACTION SNAPSHOT``) before its first query. Both then see exactly the same
committed rows, so the figures are identical to the sequential path's.

Used only on PostgreSQL and only outside any transaction: inside an atomic block the
caller may hold uncommitted rows (a test's data, a request's writes) that a second
connection cannot see, and its snapshot is not ours to export. There the sequential
path runs (``reports.selectors.figures.stewardship_figures``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import connection, transaction

# What pg_export_snapshot() returns, e.g. "00000003-0000001B-1". Checked before it is
# written into SET TRANSACTION SNAPSHOT, which takes a literal, not a parameter.
SNAPSHOT_ID = re.compile(r"^[0-9A-Fa-f]+(-[0-9A-Fa-f]+)+$")


def available() -> bool:
    """PostgreSQL, not inside a transaction, and not switched off
    (setting REPORTS_CONCURRENT_FIGURES, off by default)."""
    return (
        connection.vendor == "postgresql"
        and not connection.in_atomic_block
        and settings.REPORTS_CONCURRENT_FIGURES
    )


def figures(
    *,
    read_units: Callable[[], list[dict]],
    read_main: Callable[[list[dict]], dict],
    read_other: Callable[[list[dict]], dict],
    tune: Callable[[], None],
    roll_up: Callable[[list[dict], dict], dict],
) -> dict:
    """Read the units and ``read_main``'s sections on the caller's connection and
    ``read_other``'s on a second one, both in one snapshot, then roll them up."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Must be the transaction's first statement; the snapshot is exported
            # before any other query so the second connection starts from the same point.
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
        tune()
        units = read_units()
        if not units:
            return {}
        # The executor's exit waits for the thread even if our own queries fail, so the
        # exported snapshot (valid only while this transaction is open) outlives its use.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="figures") as pool:
            other = pool.submit(_in_snapshot, snapshot, tune, lambda: read_other(units))
            sections = read_main(units)
            sections.update(other.result())
    return roll_up(units, sections)


def _in_snapshot(snapshot: str, tune: Callable[[], None], work: Callable[[], dict]) -> dict:
    """On the worker thread: Django gives each thread its own connection, so this runs
    on a second one, closed afterwards (the thread ends; nothing would reuse it)."""
    if not SNAPSHOT_ID.match(snapshot):
        raise ValueError(f"unexpected snapshot id {snapshot!r}")
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                # Both before any query of this transaction, as PostgreSQL requires.
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cursor.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            tune()
            return work()
    finally:
        connection.close()
