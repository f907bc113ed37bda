"""A real Celery worker (and beat) against a real broker and the test database.

The fault tests run on PostgreSQL (marked ``postgres``) with a broker: the first
reachable of ``RELIABILITY_BROKER_URL`` (``.ci/run`` names RabbitMQ), the settings'
broker, RabbitMQ on 127.0.0.1:5672, ``REDIS_URL``. Without one they are skipped with
the reason.
Each test gets a queue of its own, so nothing else using the broker is disturbed,
and short leases (RELIABILITY_ENV), so a dead worker's runs are taken over within
seconds. Workers are real subprocesses (``tests.reliability.worker``) in their own
process group: a test can ``kill -9`` the whole worker or one pool child.
A test that restarts the broker itself runs on a RabbitMQ node of its own
(``private_rabbitmq``, tests.reliability.brokers); one that restarts PostgreSQL, on
a cluster of its own (``private_postgres``, tests.reliability.databases).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]

# Leases of a few seconds: a dead worker's run is taken over within the test's time.
RELIABILITY_ENV = {
    "RUN_LEASE_SECONDS": "3",
    "RUN_QUEUED_STALE_SECONDS": "3",
    "RUN_REAPER_INTERVAL_SECONDS": "1",
    "RUN_RETRY_BACKOFF_SECONDS": "1",
    "RUN_MAX_ATTEMPTS": "5",
}
RABBITMQ_DEFAULT = "amqp://guest:guest@127.0.0.1:5672//"


def reachable(url: str) -> bool:
    parts = urlsplit(url)
    default_port = 5672 if parts.scheme.startswith(("amqp", "pyamqp")) else 6379
    try:
        with socket.create_connection((parts.hostname, parts.port or default_port), timeout=1):
            return True
    except OSError:
        return False


def broker_url() -> str | None:
    """The broker the fault tests use, or None if none is reachable."""
    candidates = [os.environ.get("RELIABILITY_BROKER_URL", "")]
    if settings.TASKS_HAVE_BROKER:
        candidates.append(settings.CELERY_BROKER_URL)
    candidates += [RABBITMQ_DEFAULT, settings.REDIS_URL]
    for url in candidates:
        if url and reachable(url):
            return url
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url_for(application_name: str) -> str:
    """The URL of the database this test runs in (pytest-django's test database)."""
    db = connection.settings_dict
    auth = quote(db["USER"] or "postgres")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{db['NAME']}?application_name={application_name}"


class Process:
    """A worker or beat subprocess with its log, in a process group of its own."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path):
        self.name = name
        self.log = log
        self.handle = log.open("ab")
        self.popen = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "tests.reliability.worker", *argv],
            cwd=ROOT,
            env=env,
            stdout=self.handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_log(self, needle: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.text():
                return
            if self.popen.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"{self.name} never logged {needle!r}:\n{self.text()[-4000:]}")

    def children(self) -> list[int]:
        path = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        return [int(pid) for pid in path.read_text().split()] if path.exists() else []

    def kill_group(self) -> None:
        """kill -9 the process and every process it started (its pool children)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.popen.wait(timeout=30)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.kill_group()
        self.handle.close()


class Stack:
    """Starts workers and beats for one test, all on the test's own queue."""

    def __init__(self, tmp_path: Path, broker: str):
        self.tmp = tmp_path
        self.broker = broker
        self.queue = f"reliability-{uuid.uuid4().hex[:12]}"
        self.app_name = f"reliability-{uuid.uuid4().hex[:8]}"
        self.mail_dir = tmp_path / "mail"
        self.mail_dir.mkdir()
        self.processes: list[Process] = []
        self.extra_env: dict[str, str] = {}

    def env(self, **overrides: str) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("CELERY_", "RELIABILITY_", "RUN_"))
            and key not in {"REDIS_URL", "BROKER_URL", "DATABASE_URL", "PYTEST_CURRENT_TEST"}
        }
        env.update(
            DJANGO_SETTINGS_MODULE="tests.reliability.worker_settings",
            DJANGO_SECRET_KEY="reliability-tests-only-key-0123456789abcdefghijklmnopqrstuvwxyz",
            DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
            DATABASE_URL=database_url_for(self.app_name),
            CELERY_BROKER_URL=self.broker,
            CELERY_QUEUE=self.queue,
            MEDIA_ROOT=str(settings.MEDIA_ROOT),
            RELIABILITY_MAIL_DIR=str(self.mail_dir),
            PYTHONUNBUFFERED="1",
            **RELIABILITY_ENV,
        )
        env.update(self.extra_env)
        env.update(overrides)
        return env

    def worker(self, name: str = "w1", *, concurrency: int = 2, **env: str) -> Process:
        process = Process(
            name,
            [
                "worker",
                "-l",
                "info",
                "-Q",
                self.queue,
                "-n",
                f"{name}-{self.queue}@%h",
                "-P",
                "prefork",
                "-c",
                str(concurrency),
                "--without-gossip",
                "--without-mingle",
            ],
            self.env(**env),
            self.tmp / f"{name}.log",
        )
        self.processes.append(process)
        process.wait_for_log(" ready.")
        return process

    def beat(self, **env: str) -> Process:
        process = Process(
            "beat",
            [
                "beat",
                "-l",
                "info",
                "-S",
                "django_celery_beat.schedulers:DatabaseScheduler",
                "--max-interval",
                "1",
                "--pidfile=",
            ],
            self.env(**env),
            self.tmp / "beat.log",
        )
        self.processes.append(process)
        process.wait_for_log("beat: Starting...")
        return process

    def terminate_database_connections(self) -> int:
        """pg_terminate_backend every connection of this test's workers, as a
        PostgreSQL restart would end them (the server itself stays up for others)."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = %s",
                [self.app_name],
            )
            return cursor.fetchone()[0]

    def mails(self) -> list[str]:
        """Every e-mail sent, one string each. Django's file backend names a file by
        the second and the backend's id(), so two e-mails sent within a second can
        share a file: each is followed by a line of 79 dashes."""
        separator = "\n" + "-" * 79 + "\n"
        return [
            mail
            for path in sorted(self.mail_dir.glob("*.log"))
            for mail in path.read_text().split(separator)
            if mail.strip()
        ]

    def stop(self) -> None:
        for process in self.processes:
            process.stop()


@pytest.fixture
def broker():
    if connection.vendor != "postgresql":
        pytest.skip("fault tests need PostgreSQL (set DATABASE_URL)")
    url = broker_url()
    if url is None:
        pytest.skip("fault tests need a broker: RabbitMQ on 127.0.0.1:5672 or REDIS_URL")
    return url


@pytest.fixture
def producer(broker):
    """This process's Celery app sending to ``broker`` (not eager), restored after."""
    from config.celery import app

    keys = (
        "task_always_eager",
        "broker_url",
        "broker_transport_options",
        "result_backend",
        "task_default_queue",
    )
    saved = {key: app.conf[key] for key in keys}

    def point_at(url: str, queue: str):
        app.conf.task_always_eager = False
        app.conf.broker_url = url
        # As the web process sends (config/settings.py): RabbitMQ confirms each publish,
        # once the persistent message is on disk.
        app.conf.broker_transport_options = (
            {"confirm_publish": True}
            if url.startswith(("amqp://", "amqps://", "pyamqp://"))
            else {}
        )
        app.conf.result_backend = None
        app.conf.task_default_queue = queue
        app.__dict__.pop("amqp", None)  # routing read the old default queue
        app._pool = None
        return app

    yield point_at
    for key, value in saved.items():
        app.conf[key] = value
    app.__dict__.pop("amqp", None)
    app._pool = None


@pytest.fixture
def stack(transactional_db, broker, producer, tmp_path):
    """Workers and beats on a queue of this test's own, stopped (kill -9) after it;
    the queue is deleted from the broker."""
    built = Stack(tmp_path, broker)
    app = producer(broker, built.queue)
    try:
        yield built
    finally:
        built.stop()
        try:
            with app.connection_for_write() as conn:
                conn.default_channel.queue_delete(built.queue)
        except Exception:  # noqa: BLE001,S110 - a broker already gone has nothing to delete
            pass


@pytest.fixture
def private_rabbitmq(stack, broker, producer, tmp_path):
    """The test's stack and this process's producer on a RabbitMQ node of the test's
    own, which the test may kill and start again (``RabbitMQNode``). Stopped after the
    test, its queue deleted first; the machine's RabbitMQ is not touched."""
    from tests.reliability.brokers import RabbitMQNode, rabbitmq_installed

    if not rabbitmq_installed():
        pytest.skip("needs rabbitmq-server and epmd installed to run a RabbitMQ node of its own")
    node = RabbitMQNode(tmp_path / "rabbitmq")
    try:
        node.start()
        stack.broker = node.url
        producer(node.url, stack.queue)
        yield node
    finally:
        stack.stop()
        try:
            if node.server is not None and node.server.poll() is None:
                app = producer(node.url, stack.queue)
                with app.connection_for_write() as conn:
                    conn.default_channel.queue_delete(stack.queue)
        except Exception:  # noqa: BLE001,S110 - a node that did not come back has no queue
            pass
        finally:
            producer(broker, stack.queue)  # the stack's own teardown talks to ``broker``
            node.stop()


@pytest.fixture
def private_postgres(stack):
    """The test's stack and this process's ``default`` connection on a PostgreSQL
    cluster of the test's own (``PostgresCluster``), migrated, which the test may stop
    and start again; the machine's PostgreSQL is not touched. The stack is stopped and
    the connection pointed back at the test database before the cluster is removed.
    ``setup_seconds`` is how long the cluster took to be ready (initdb to migrated)."""
    from django.contrib.contenttypes.models import ContentType

    from tests.reliability.databases import PostgresCluster, postgres_installed

    reason = postgres_installed()
    if reason:
        pytest.skip(reason)
    saved = dict(connection.settings_dict)
    cluster = PostgresCluster()
    try:
        started = time.monotonic()
        cluster.init()
        cluster.start()
        cluster.psql("postgres", "CREATE DATABASE tracker")
        migrate = subprocess.run(  # noqa: S603 - our own interpreter and manage.py
            [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
            cwd=ROOT,
            env=stack.env(DATABASE_URL=cluster.url("tracker")),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert migrate.returncode == 0, migrate.stdout + migrate.stderr
        cluster.setup_seconds = time.monotonic() - started
        stack.extra_env["DATABASE_URL"] = cluster.url("tracker", stack.app_name)
        connection.close()
        connection.settings_dict.update(
            NAME="tracker", USER="postgres", PASSWORD="", HOST="127.0.0.1", PORT=cluster.port
        )
        ContentType.objects.clear_cache()  # ids of the test database's content types
        yield cluster
    finally:
        stack.stop()
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)
        ContentType.objects.clear_cache()
        cluster.remove()


def wait_until(predicate, *, timeout: float, interval: float = 0.25, message: str = ""):
    """Poll ``predicate`` until it returns something true; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(message or f"not true within {timeout} s")
