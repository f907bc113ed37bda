"""gunicorn's settings for the web process: ``gunicorn -c gunicorn.conf.py
config.wsgi:application`` (``make stack``, the Dockerfile, docker-compose.yml).

Sizes come from the environment, and README "Operations" (Connection budget) adds
them up: each gunicorn thread holds at most one PostgreSQL connection (persistent,
DATABASE_CONN_MAX_AGE, health-checked), so web connections = workers x threads.
"""

import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Threaded workers: a request waiting on PostgreSQL does not hold a whole process.
# The threads of one process share one core (Python's GIL), so on a two-core machine
# four processes of two threads each keep a short request from queueing behind a
# long one in the same process: under the load test's 50 users, 4 x 2 answered a
# device's GET in 86 ms at the 95th percentile where 2 x 4 took 270 ms, with the same
# eight database connections (bench/RESULTS.md, "Load test").
worker_class = "gthread"
workers = _int("GUNICORN_WORKERS", 4)
threads = _int("GUNICORN_THREADS", 2)
# A request still running after this is killed with its worker (the slowest page, a
# large bulk upsert, takes a few seconds); its transaction rolls back with it.
timeout = _int("GUNICORN_TIMEOUT", 60)
# On SIGTERM or a reload, requests in flight get this long to finish.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Workers are replaced after this many requests (staggered by the jitter), so a slow
# leak never grows without bound and not every worker restarts at once.
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 200)
# Worker heartbeat files in memory, not on a disk that may stall (gunicorn's advice
# for containers). bandit B108 / ruff S108 reviewed: RAM-backed, gunicorn's own files.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108  # nosec B108
# One access line per request on stdout, JSON-ish (values are not escaped: a quote in
# a path or user agent can break a line for a strict parser).
accesslog = "-"
access_log_format = (
    '{"time": "%(t)s", "remote": "%(h)s", "method": "%(m)s", "path": "%(U)s", '
    '"query": "%(q)s", "status": %(s)s, "bytes": "%(B)s", "duration_ms": %(M)s, '
    '"pid": "%(p)s", "agent": "%(a)s"}'
)
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# The app is loaded in each worker, not the master: the master holds no database
# connection, and a worker killed mid-request is replaced with a fresh import.
preload_app = False
