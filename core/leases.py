"""Leases on work rows: report runs, import runs, outbox deliveries.

A row is the source of truth for its work; a Celery message is only a wake-up. A
worker takes a row by a compare-and-swap ``update()`` whose WHERE clause says "free,
or held by a lease that has lapsed", and the update writes a new lease
(``lease_expires_at``) and the next attempt number. Of two workers exactly one sees a
row count of 1. The winner renews the lease while it works (``Heartbeat``); a worker
that dies (``kill -9``, a lost machine, a pool child killed by the OOM killer) stops
renewing, its lease lapses, and a redelivered task or the reaper takes the row over.

The attempt number is the fencing token: every later write of an attempt says
``attempts=<n>`` in its WHERE clause, so a worker presumed dead that wakes up changes
nothing once another attempt has taken over.

Stated leases (settings): ``RUN_LEASE_SECONDS`` (held, renewed every third of it),
``RUN_QUEUED_STALE_SECONDS`` (a queued row nobody claimed: its wake-up is sent again),
``RUN_MAX_ATTEMPTS`` (then the row is failed with the reason). README "Operations".

No app imports here: each app owns its rows and its reap function.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    InterfaceError,
    OperationalError,
    connection,
    connections,
)
from django.db.models import Q
from django.utils import timezone

logger = logging.getLogger(__name__)

T = TypeVar("T")


def lease_length() -> dt.timedelta:
    return dt.timedelta(seconds=settings.RUN_LEASE_SECONDS)


def lease_until(now: dt.datetime | None = None) -> dt.datetime:
    """A new lease, from ``now``."""
    return (now or timezone.now()) + lease_length()


def queued_stale_before(now: dt.datetime | None = None) -> dt.datetime:
    """Rows queued (or woken) before this have lost their message."""
    return (now or timezone.now()) - dt.timedelta(seconds=settings.RUN_QUEUED_STALE_SECONDS)


def max_attempts() -> int:
    return settings.RUN_MAX_ATTEMPTS


def free(now: dt.datetime) -> Q:
    """No lease, or one that has lapsed by ``now``."""
    return Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)


def lapsed(
    now: dt.datetime,
    *,
    started_field: str = "started_at",
    unleased_after: dt.timedelta | None = None,
) -> Q:
    """A running row whose holder has stopped renewing: its lease lapsed by ``now``.

    A row started without a lease (written before leases existed, or by a door that
    does not hold one) counts as held for ``unleased_after`` from its start (one
    lease length unless said otherwise).
    """
    grace = unleased_after if unleased_after is not None else lease_length()
    return Q(lease_expires_at__lt=now) | Q(
        lease_expires_at__isnull=True, **{f"{started_field}__lt": now - grace}
    )


class Heartbeat:
    """Renews a lease every third of its length, on a thread of its own, while the
    work in the ``with`` block runs.

    ``renew`` is a fenced update of the row (its WHERE names the attempt) returning
    whether the row is still ours; once it says no, ``lost`` is set and the beat
    stops. The thread has its own database connection (Django's are per thread), so a
    long step of the work (a big PDF, a slow batch) never lets the lease lapse, and a
    failed renewal (the database restarting) is logged and tried again next beat.

    Inside a transaction no thread is started: another connection could not see the
    caller's uncommitted row. The work's own progress writes renew the lease there.
    """

    def __init__(self, renew: Callable[[], bool], *, interval: float | None = None):
        self.renew = renew
        self.interval = interval if interval is not None else settings.RUN_LEASE_SECONDS / 3
        self.lost = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Heartbeat:
        if not connection.in_atomic_block:
            self._thread = threading.Thread(target=self._beat, name="lease-heartbeat", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(5.0, self.interval))

    def _beat(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    if not self.renew():
                        self.lost = True
                        return
                except DatabaseError:
                    logger.warning("Could not renew a lease; trying again", exc_info=True)
                    connection.close()
        finally:
            connections.close_all()  # this thread's connection only


def on_fresh_connection(
    write: Callable[[], T], *, using: str = DEFAULT_DB_ALIAS, tries: int = 3, pause: float = 0.5
) -> T:
    """Run ``write`` (the outcome of failed work) on a connection known to be alive.

    The connection the work was using may be why it failed: its backend terminated,
    the server restarted. Writing the failure through it would fail again and leave
    the row ``running`` for good. So the connection is closed and ``write`` runs on a
    new one, tried ``tries`` times with a pause between; if the database stays away
    the error is raised, and the row's lease lapses for the reaper to find.

    Inside a transaction nothing fresher could see the caller's rows (and closing the
    connection would end the transaction), so ``write`` runs there as it is.
    """
    conn = connections[using]
    if conn.in_atomic_block:
        return write()
    for attempt in range(1, tries + 1):
        conn.close()
        try:
            return write()
        except (OperationalError, InterfaceError):
            if attempt == tries:
                raise
            logger.warning("Recording an outcome failed; new connection in %ss", pause * attempt)
            time.sleep(pause * attempt)
    raise AssertionError("unreachable")  # pragma: no cover
