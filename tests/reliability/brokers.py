"""A RabbitMQ node of a test's own, which the test can kill and start again.

The node has its own name (``relitest-<random>@localhost``), AMQP and distribution
ports, data directory, Erlang cookie (in a ``HOME`` of its own) and its own epmd on
a free port, all under the test's ``tmp_path``; ``RABBITMQ_CONF_ENV_FILE`` and
``RABBITMQ_CONFIG_FILE`` point at files of its own, so nothing is read from
``/etc/rabbitmq`` and the machine's RabbitMQ (``rabbit@localhost``) is never touched.
``kill()`` is ``kill -9`` of the node; ``start()`` again boots it on the same data
directory, so durable queues and the persistent messages they held come back.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path

from tests.reliability.conftest import free_port

SERVER_PATHS = ("/usr/lib/rabbitmq/bin/rabbitmq-server", "/usr/sbin/rabbitmq-server")


def _rabbitmq_bin() -> Path | None:
    """The directory of RabbitMQ's own scripts (rabbitmq-server, rabbitmqctl), or None.

    Debian's ``/usr/sbin/rabbitmq-server`` is a wrapper that, run as root, switches to
    the rabbitmq user and the system node's directory: the real script
    (``/usr/lib/rabbitmq/bin/rabbitmq-server`` links to it) is looked for first.
    """
    for candidate in (*SERVER_PATHS, shutil.which("rabbitmq-server")):
        if candidate and Path(candidate).exists():
            real = Path(candidate).resolve()
            if (real.parent / "rabbitmqctl").exists() and (real.parent / "rabbitmq-env").exists():
                return real.parent
    return None


def rabbitmq_installed() -> bool:
    """Whether a RabbitMQ node of a test's own can be run here."""
    return _rabbitmq_bin() is not None and shutil.which("epmd") is not None


def _running(pid: int) -> bool:
    """Whether pid is a live process (not gone, not a zombie waiting to be reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in {"Z", "X"}


def _end(pids: list[int], timeout: float = 5) -> None:
    """Wait for the node's helper processes to exit (they do once the node is gone),
    kill -9 any still running after ``timeout``."""
    deadline = time.monotonic() + timeout
    while any(_running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in pids:
        if _running(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


class RabbitMQNode:
    """One private RabbitMQ node: ``start()``, ``kill()`` (``kill -9``), ``stop()``."""

    def __init__(self, directory: Path):
        self.bin = _rabbitmq_bin()
        if self.bin is None:
            raise RuntimeError("rabbitmq-server is not installed")
        self.dir = directory
        self.name = f"relitest-{secrets.token_hex(4)}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        self.epmd_port = free_port()
        home = directory / "home"
        home.mkdir(parents=True)
        cookie = home / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(16))
        cookie.chmod(0o400)
        (directory / "enabled_plugins").write_text("[].\n")
        (directory / "rabbitmq-env.conf").write_text("")
        (directory / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\nloopback_users.guest = true\n"
        )
        self.log = directory / "server.log"
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": str(home),
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(directory / "mnesia"),
            "RABBITMQ_LOG_BASE": str(directory / "log"),
            "RABBITMQ_CONF_ENV_FILE": str(directory / "rabbitmq-env.conf"),
            "RABBITMQ_CONFIG_FILE": str(directory / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(directory / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(directory / "enabled_plugins"),
            # Distribution on loopback only, through the node's own epmd.
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "ERL_EPMD_PORT": str(self.epmd_port),
        }
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}//"
        self.epmd: subprocess.Popen | None = None
        self.server: subprocess.Popen | None = None
        self._handle = None

    def _spawn(self, argv: list[str]) -> subprocess.Popen:
        if self._handle is None:
            self._handle = self.log.open("ab")
        return subprocess.Popen(  # noqa: S603 - the installed RabbitMQ's own programs
            argv,
            cwd=self.dir,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start(self, timeout: float = 60) -> float:
        """Boot the node (on the data directory of any earlier boot) and return the
        seconds until it accepted an AMQP connection."""
        started = time.monotonic()
        if self.epmd is None:
            self.epmd = self._spawn(
                [shutil.which("epmd"), "-port", str(self.epmd_port), "-address", "127.0.0.1"]
            )
        self.server = self._spawn([str(self.bin / "rabbitmq-server")])
        self.wait_ready(timeout)
        return time.monotonic() - started

    def wait_ready(self, timeout: float) -> None:
        """Until an AMQP connection opens: RabbitMQ starts its listeners last, after
        its queues are recovered."""
        import amqp

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                break
            conn = amqp.Connection(f"127.0.0.1:{self.port}", connect_timeout=1)
            try:
                conn.connect()
                return
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.25)
            finally:
                with contextlib.suppress(Exception):
                    conn.close()
        raise AssertionError(f"RabbitMQ node {self.name} did not start:\n{self.text()[-4000:]}")

    def ctl(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run(  # noqa: S603
            [str(self.bin / "rabbitmqctl"), "-n", self.name, *args],
            cwd=self.dir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def _tree(self, pid: int) -> list[int]:
        """pid and its descendants (erl_child_setup and inet_gethost run in sessions
        of their own, outside the node's process group)."""
        found = [pid]
        for task in Path(f"/proc/{pid}/task").glob("*"):
            with contextlib.suppress(OSError):
                for child in (task / "children").read_text().split():
                    found += self._tree(int(child))
        return found

    def kill(self) -> None:
        """kill -9 the node, as a crash or an OOM kill would end it."""
        if self.server is None:
            return
        if self.server.poll() is not None:  # exited (and reaped): its pid may be reused
            self.server = None
            return
        pids = self._tree(self.server.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.server.pid, signal.SIGKILL)
        for pid in pids[1:]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.server.wait(timeout=30)
        self.server = None
        _end(pids[1:])

    def stop(self) -> None:
        """Stop the node (rabbitmqctl stop, then kill -9 whatever is left) and its epmd."""
        try:
            if self.server is not None and self.server.poll() is None:
                helpers = self._tree(self.server.pid)[1:]
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.ctl("stop", timeout=20)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.server.wait(timeout=10)
                _end(helpers)
        finally:
            self.kill()
            if self.epmd is not None and self.epmd.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.epmd.pid, signal.SIGKILL)
                self.epmd.wait(timeout=30)
            self.epmd = None
            if self._handle is not None:
                self._handle.close()
                self._handle = None
