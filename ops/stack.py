"""The production-shaped stack on this machine, from one command.

``make stack`` (``python -m ops.stack start``) runs what docker-compose.yml runs,
without Docker: gunicorn (gunicorn.conf.py, DEBUG off, a generated secret key,
ALLOWED_HOSTS 127.0.0.1, whitenoise static), a Celery worker and Celery beat,
against the local PostgreSQL (database ``tracker_stack``, created if absent,
migrated, demo seeded if empty), RabbitMQ as broker and Redis as cache.
``make stack-stop`` stops it. Logs, pid files, the secret key and uploaded
files live in ``.stack/``.

The smoke test (tests/reliability/test_stack.py), the gunicorn fault test and the
load test (bench/load.py) start the same processes through ``Stack`` here, so what
CI tries is what ``make stack`` runs.

Environment (all optional): STACK_DATABASE_URL, STACK_BROKER_URL, STACK_REDIS_URL,
STACK_PORT (8001), STACK_QUEUE, GUNICORN_WORKERS/GUNICORN_THREADS (gunicorn.conf.py),
CELERY_CONCURRENCY (2).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal

# bandit B404/B603 reviewed: the stack starts our own interpreter with fixed arguments, no shell.
import subprocess  # nosec B404
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_STATE_DIR = ROOT / ".stack"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/tracker_stack"
DEFAULT_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/5"
PROCESSES = ("web", "worker", "beat")


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def celery_concurrency() -> int:
    return _int("CELERY_CONCURRENCY", 2)


def connection_budget(env: dict[str, str] | None = None) -> dict[str, int]:
    """PostgreSQL connections the stack can hold at once, from the same environment
    and files the processes read (README "Operations", Connection budget).

    - web: gunicorn workers x threads (gunicorn.conf.py; one persistent connection
      per thread);
    - worker: per pool process, its task's connection and its lease heartbeat's
      (core/leases.Heartbeat has a connection of its own), plus the main process;
    - beat: the DatabaseScheduler's one;
    - reaper: a housekeeping worker of its own (-c 1) when CELERY_REAPER_QUEUE names
      another queue; otherwise the reapers run in the worker's pool, counted above.
    """
    import runpy

    env = dict(os.environ if env is None else env)
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        gunicorn = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    concurrency = int(env.get("CELERY_CONCURRENCY") or 2)
    default_queue = env.get("CELERY_QUEUE") or "celery"
    own_reaper = (env.get("CELERY_REAPER_QUEUE") or default_queue) != default_queue
    budget = {
        "web": int(gunicorn["workers"]) * int(gunicorn["threads"]),
        "worker": concurrency * 2 + 1,
        "beat": 1,
        "reaper": 3 if own_reaper else 0,
    }
    budget["total"] = sum(budget.values())
    return budget


def loopback_cookie_jar():
    """A cookie jar for an HTTP client (requests, locust) talking to the stack.

    The stack runs as production does, DEBUG off with Secure cookies, over plain HTTP
    on 127.0.0.1. Browsers send Secure cookies to a loopback origin; requests does not,
    so this jar stores cookies from 127.0.0.1 without the Secure flag (for that host
    only; the server side is unchanged)."""
    from requests.cookies import RequestsCookieJar

    class LoopbackCookieJar(RequestsCookieJar):
        def set_cookie(self, cookie, *args, **kwargs):
            if cookie.domain in {"127.0.0.1", "127.0.0.1.local"}:
                cookie.secure = False
            return super().set_cookie(cookie, *args, **kwargs)

    return LoopbackCookieJar()


@dataclass
class Stack:
    """One stack: where it keeps its state, what it connects to, how it is sized."""

    state_dir: Path = DEFAULT_STATE_DIR
    database_url: str = field(
        default_factory=lambda: os.environ.get("STACK_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    broker_url: str = field(
        default_factory=lambda: os.environ.get("STACK_BROKER_URL", DEFAULT_BROKER_URL)
    )
    redis_url: str = field(
        default_factory=lambda: os.environ.get("STACK_REDIS_URL", DEFAULT_REDIS_URL)
    )
    port: int = field(default_factory=lambda: _int("STACK_PORT", 8001))
    # A queue of the stack's own: other users of the same RabbitMQ are not disturbed.
    queue: str = field(default_factory=lambda: os.environ.get("STACK_QUEUE", "tracker-stack"))
    concurrency: int = field(default_factory=celery_concurrency)
    # Added to every process's environment (tests: short leases, a mail directory).
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database_name(self) -> str:
        return urlsplit(self.database_url).path.lstrip("/")

    def secret_key(self) -> str:
        """Generated once per state directory and kept (0600), so sessions survive
        a restart of the stack."""
        path = self.state_dir / "secret_key"
        if not path.exists():
            self.state_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(64))
            path.chmod(0o600)
        return path.read_text().strip()

    def environment(self) -> dict[str, str]:
        """Production settings (DEBUG off) for plain HTTP on the loopback interface."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DJANGO_", "CELERY_", "RELIABILITY_", "RUN_"))
            and key not in {"DATABASE_URL", "REDIS_URL", "BROKER_URL", "PYTEST_CURRENT_TEST"}
        }
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings",
            DJANGO_SECRET_KEY=self.secret_key(),
            DJANGO_ALLOWED_HOSTS="127.0.0.1",
            # Plain HTTP on 127.0.0.1: nothing to redirect to. Everything else (secure
            # cookies, HSTS, CSP) stays as production has it.
            DJANGO_SECURE_SSL_REDIRECT="0",
            DATABASE_URL=self.database_url,
            CELERY_BROKER_URL=self.broker_url,
            REDIS_URL=self.redis_url,
            CELERY_QUEUE=self.queue,
            MEDIA_ROOT=str(self.state_dir / "media"),
            GUNICORN_BIND=f"127.0.0.1:{self.port}",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        return env

    def commands(self) -> dict[str, list[str]]:
        python = sys.executable
        return {
            "web": [
                python,
                "-m",
                "gunicorn",
                "-c",
                str(ROOT / "gunicorn.conf.py"),
                "config.wsgi:application",
            ],
            "worker": [
                python,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-l",
                "info",
                "-Q",
                self.queue,
                "-c",
                str(self.concurrency),
                "-n",
                f"{self.queue}@%h",
                "--without-gossip",
                "--without-mingle",
            ],
            "beat": [
                python,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "-l",
                "info",
                "-S",
                "django_celery_beat.schedulers:DatabaseScheduler",
                "--pidfile=",
            ],
        }

    # --- database ---------------------------------------------------------------

    def ensure_database(self) -> bool:
        """Create the stack's database if absent; True if it was created."""
        import psycopg

        parts = urlsplit(self.database_url)
        maintenance = urlunsplit(parts._replace(path="/postgres"))
        with psycopg.connect(maintenance, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [self.database_name]
            ).fetchone()
            if exists:
                return False
            conn.execute(f'CREATE DATABASE "{self.database_name}"')
            return True

    def manage(self, *args: str, log: str = "prepare") -> None:
        with self.log_path(log).open("ab") as handle:
            subprocess.run(  # noqa: S603  # nosec B603
                [sys.executable, str(ROOT / "manage.py"), *args],
                cwd=ROOT,
                env=self.environment(),
                stdout=handle,
                stderr=subprocess.STDOUT,
                check=True,
            )

    def prepare(self, *, devices: int | None = None) -> None:
        """Create, migrate and (if empty) seed the database; demo logins."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.ensure_database()
        self.manage("migrate", "--noinput")
        seed = ["seed_demo", "--if-empty", "--no-progress"]
        if devices:
            seed += ["--devices", str(devices)]
        self.manage(*seed)
        self.manage("demo_users")

    # --- processes --------------------------------------------------------------

    def log_path(self, name: str) -> Path:
        return self.state_dir / f"{name}.log"

    def pid_path(self, name: str) -> Path:
        return self.state_dir / f"{name}.pid"

    def pid(self, name: str) -> int | None:
        path = self.pid_path(name)
        if not path.exists():
            return None
        pid = int(path.read_text().strip())
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid

    def start(self, *, timeout: float = 60) -> None:
        """Start gunicorn, the worker and beat, each in a process group of its own,
        and wait until each says it is ready."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        env = self.environment()
        for name, argv in self.commands().items():
            if self.pid(name):
                raise RuntimeError(f"{name} is already running (pid {self.pid(name)})")
            with self.log_path(name).open("ab") as handle:
                process = subprocess.Popen(  # noqa: S603  # nosec B603
                    argv,
                    cwd=ROOT,
                    env=env,
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            self.pid_path(name).write_text(str(process.pid))
        try:
            self.wait_ready(timeout=timeout)
        except Exception:
            self.stop()
            raise

    def wait_ready(self, *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        needles = {"worker": " ready.", "beat": "beat: Starting..."}
        pending = {"web", *needles}
        while pending and time.monotonic() < deadline:
            for name in list(pending):
                if self.pid(name) is None:
                    raise RuntimeError(f"{name} exited:\n{self.tail(name)}")
                if name == "web":
                    if self.http_ok("/login/"):
                        pending.discard(name)
                elif needles[name] in self.log_path(name).read_text(errors="replace"):
                    pending.discard(name)
            time.sleep(0.3)
        if pending:
            raise RuntimeError(
                f"not ready within {timeout} s: {', '.join(sorted(pending))}\n"
                + "\n".join(self.tail(name) for name in sorted(pending))
            )

    def http_ok(self, path: str) -> bool:
        try:
            # bandit B310 / ruff S310 reviewed: the URL is our own http://127.0.0.1.
            with urllib.request.urlopen(self.base_url + path, timeout=2) as response:  # noqa: S310  # nosec B310
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def tail(self, name: str, chars: int = 3000) -> str:
        path = self.log_path(name)
        text = path.read_text(errors="replace") if path.exists() else ""
        return f"--- {name} ---\n{text[-chars:]}"

    def children(self, name: str) -> list[int]:
        """The process's direct children (gunicorn's workers, the worker's pool)."""
        pid = self.pid(name)
        path = Path(f"/proc/{pid}/task/{pid}/children")
        return [int(p) for p in path.read_text().split()] if pid and path.exists() else []

    def stop(self, *, grace: float = 20) -> None:
        """SIGTERM each process group (warm shutdown: requests and tasks in flight
        finish), SIGKILL what is left after ``grace`` seconds."""
        pids = {name: self.pid(name) for name in PROCESSES}
        for pid in filter(None, pids.values()):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for name, pid in pids.items():
            if pid is None:
                continue
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.2)
            if _alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
            self.pid_path(name).unlink(missing_ok=True)

    def status(self) -> dict[str, int | None]:
        return {name: self.pid(name) for name in PROCESSES}


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (our own child is reaped so it does not linger)."""
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.stack", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["start", "stop", "status", "prepare"])
    parser.add_argument(
        "--devices", type=int, help="seed this many devices if the database is empty"
    )
    parser.add_argument("--no-prepare", action="store_true", help="start without migrate/seed")
    args = parser.parse_args(argv)
    stack = Stack()
    if args.command == "stop":
        stack.stop()
        print("stack stopped")
        return 0
    if args.command == "status":
        for name, pid in stack.status().items():
            print(f"{name:7} {'running, pid ' + str(pid) if pid else 'stopped'}")
        return 0
    if not args.no_prepare:
        print(f"preparing {stack.database_name} (log: {stack.log_path('prepare')})", flush=True)
        stack.prepare(devices=args.devices)
    if args.command == "prepare":
        return 0
    stack.start()
    print(f"stack running on {stack.base_url}/ (logs in {stack.state_dir}/; make stack-stop)")
    print(f"demo logins: see {stack.log_path('prepare')} (manage.py demo_users)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
