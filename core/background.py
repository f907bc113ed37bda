"""Sending a task: to the broker, or, with no worker, to a thread pool of this process.

With a broker a task goes to it as usual (``task.delay``). With none (``make run`` on
SQLite), Celery would run the task eagerly inside the request: a browser import held
the page for seconds. With ``TASKS_IN_THREADS`` on, such a task runs on a small pool of
threads of this process instead (``TASKS_THREADS``, started on first use), so the page
answers at once; the run's row carries the state, and the progress page polls it as it
does with a worker.

Only from autocommit, which every caller is in (an ``on_commit`` callback): a thread
has its own database connection, which could not see the rows of an open transaction,
so inside one the task runs inline (eagerly) as before. Off (tests, production with a
broker), nothing changes.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait

from django.conf import settings
from django.db import connection, connections

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pending: set[Future] = set()


def dispatch(task, *args, **kwargs):
    """Queue ``task`` with ``args``: to the broker, or to this process's threads when
    there is no broker and ``TASKS_IN_THREADS`` is on. Returns the AsyncResult or Future."""
    if in_threads(task):
        future = _executor().submit(_run, task, args, kwargs)
        with _lock:
            _pending.add(future)
        future.add_done_callback(_forget)
        return future
    return task.delay(*args, **kwargs)


def in_threads(task) -> bool:
    return (
        settings.TASKS_IN_THREADS
        and bool(task.app.conf.task_always_eager)
        and not connection.in_atomic_block
    )


def wait_idle(timeout: float | None = None) -> bool:
    """Wait for the tasks sent to the threads so far; True if all have finished."""
    with _lock:
        futures = list(_pending)
    _done, not_done = wait(futures, timeout=timeout)
    return not not_done


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                max_workers=max(1, settings.TASKS_THREADS),
                thread_name_prefix="tasks",
            )
        return _pool


def _forget(future: Future) -> None:
    with _lock:
        _pending.discard(future)


def _run(task, args, kwargs) -> None:
    """Run the task as a worker would (its retries included), then close this thread's
    connection. Its failure is recorded on its run's row by the task itself; here it
    is only logged, as a worker would log it."""
    try:
        task.apply(args=args, kwargs=kwargs, throw=True)
    except Exception:
        logger.exception("Task %s%r failed in the background thread", task.name, args)
    finally:
        connections.close_all()
