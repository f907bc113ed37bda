"""A PostgreSQL cluster of a test's own, which the test can stop and start again.

The cluster is Debian's PostgreSQL 15 server binaries (``initdb``, ``pg_ctl``) run as
the ``postgres`` user (initdb refuses root) through ``runuser``, with its data
directory, log and Unix socket in a directory of its own under /tmp (made with
``tempfile.mkdtemp`` and owned by postgres: pytest's ``tmp_path`` sits under 0700
directories the postgres user cannot enter), listening on 127.0.0.1 and a free port,
trust authentication for local connections. The machine's PostgreSQL (and every
connection others hold to it) is never touched.

``fsync=off``: a fault test of availability (the server away for a few seconds, its
clients cut), not of durability; ``stop("immediate")`` is still a crash-like stop
(no checkpoint: the next start runs crash recovery from the WAL).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.reliability.conftest import free_port

BIN = Path("/usr/lib/postgresql/15/bin")
USER = "postgres"


def postgres_installed() -> str | None:
    """Why a cluster of a test's own cannot run here, or None if it can."""
    missing = [name for name in ("initdb", "pg_ctl", "postgres") if not (BIN / name).exists()]
    if missing:
        return f"needs the PostgreSQL 15 server binaries ({', '.join(missing)} not in {BIN})"
    if shutil.which("runuser") is None:
        return "needs runuser to run initdb and pg_ctl as the postgres user"
    try:
        pwd.getpwnam(USER)
    except KeyError:
        return "needs a postgres user to run the cluster as"
    return None


class PostgresCluster:
    """One private cluster: ``start()``, ``stop(mode)``, ``remove()``."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="relitest-pg-"))
        account = pwd.getpwnam(USER)
        os.chown(self.dir, account.pw_uid, account.pw_gid)
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.port = free_port()
        self.pid: int | None = None

    def url(self, database: str, application_name: str = "") -> str:
        url = f"postgres://{USER}@127.0.0.1:{self.port}/{database}"
        return f"{url}?application_name={application_name}" if application_name else url

    def _as_postgres(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
        result = subprocess.run(  # noqa: S603 - the installed PostgreSQL's own programs
            ["runuser", "-u", USER, "--", *argv],  # noqa: S607
            cwd=self.dir,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise AssertionError(
                f"{' '.join(argv)} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
                f"\n{self.text()[-4000:]}"
            )
        return result

    def init(self) -> None:
        self._as_postgres(
            str(BIN / "initdb"),
            "-D",
            str(self.data),
            "--auth=trust",
            "-U",
            USER,
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )

    def start(self, timeout: float = 60) -> float:
        """Start the server (crash recovery first after an immediate stop) and return
        the seconds until it accepted connections."""
        started = time.monotonic()
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.dir} -c fsync=off"
        )
        self._as_postgres(
            str(BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "-t",
            str(int(timeout)),
            "start",
            timeout=timeout + 10,
        )
        self.pid = self._postmaster()
        return time.monotonic() - started

    def _postmaster(self) -> int | None:
        """The postmaster's pid from its pid file, or None if there is none."""
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop -m <mode>``; ``immediate`` ends every process at once, no
        checkpoint, as a crash would. The postmaster is killed (by its pid) if it
        outlives the stop."""
        pid = self.pid or self._postmaster()  # also a start that timed out
        if pid is None:
            return
        with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
            self._as_postgres(
                str(BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", timeout=30
            )
        if _running(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while _running(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            # Its pid file stays behind: a later stop must not read a reused pid from it.
            (self.data / "postmaster.pid").unlink(missing_ok=True)
        self.pid = None

    def psql(self, database: str, sql: str) -> str:
        return self._as_postgres(
            str(BIN / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-d", database,
            "-Atc", sql,
        ).stdout  # fmt: skip

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def remove(self) -> None:
        """Stop the server (if running) and delete its directory."""
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def _running(pid: int) -> bool:
    """Whether pid is a live process (not gone, not a zombie)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in {"Z", "X"}
