"""Benchmark: ``manage.py seed_demo --devices 1000000`` on a fresh PostgreSQL database.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_seed .venv/bin/python bench/seed_demo.py
    [--devices N] [--keep]

Drops and re-creates the database named in DATABASE_URL (it must start with
``bench_``), migrates it, runs seed_demo as a child process under ``/usr/bin/time -v``
and prints the wall time, the phases (-v 2) and the child's peak resident memory, then
checks the counts and drops the database (about 1.5 GB at a million devices) unless
``--keep``. The apps' demo hooks are skipped (``--skip-hooks``): this measures the
estate generator; the hooks belong to their apps.

Target on the 2-core machine: under 3 minutes and under 500 MB resident.
"""

import argparse
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_seed")

TARGET_SECONDS = 180
TARGET_RSS_MB = 500


def _psql_admin(url, sql: str) -> None:
    # A fixed argv built from the operator's own DATABASE_URL.
    argv = ["psql", "-h", url.hostname or "127.0.0.1", "-p", str(url.port or 5432),
            "-U", url.username or "postgres", "-d", "postgres", "-qc", sql]  # fmt: skip
    subprocess.run(argv, check=True)  # noqa: S603, S607


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1_000_000)
    parser.add_argument("--seed", default="2025")
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    args = parser.parse_args()

    url = urlparse(os.environ["DATABASE_URL"])
    name = url.path.lstrip("/")
    if not url.scheme.startswith("postgres") or not name.startswith("bench_"):
        sys.exit("DATABASE_URL must name a PostgreSQL database called bench_<something>.")
    python = str(ROOT / ".venv" / "bin" / "python")
    manage = str(ROOT / "manage.py")

    _psql_admin(url, f'DROP DATABASE IF EXISTS "{name}"')
    _psql_admin(url, f'CREATE DATABASE "{name}"')
    subprocess.run([python, manage, "migrate", "--noinput", "-v0"], check=True, cwd=ROOT)  # noqa: S603

    load_before = os.getloadavg()
    cmd = [python, manage, "seed_demo", "--devices", str(args.devices), "--seed", args.seed,
           "--no-progress", "--skip-hooks", "-v", "2"]  # fmt: skip
    timed = ["/usr/bin/time", "-v", *cmd] if Path("/usr/bin/time").exists() else cmd
    started = time.monotonic()
    run = subprocess.run(timed, cwd=ROOT, capture_output=True, text=True)  # noqa: S603
    wall = time.monotonic() - started
    load_after = os.getloadavg()
    sys.stdout.write(run.stdout)
    if run.returncode != 0:
        sys.stderr.write(run.stderr)
        sys.exit(f"seed_demo failed with exit code {run.returncode}")
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", run.stderr)
    # Without /usr/bin/time, the children's peak RSS (KB on Linux) is the same figure.
    peak_kb = (
        int(match.group(1)) if match else resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    )
    peak_mb = peak_kb / 1024

    import django

    django.setup()
    from devices.models import Device, DeviceEvent, Person

    counts = (Device.objects.count(), Person.objects.count(), DeviceEvent.objects.count())
    from django.db import connections

    connections.close_all()
    if not args.keep:
        _psql_admin(url, f'DROP DATABASE IF EXISTS "{name}"')

    print(f"command: {' '.join(cmd[1:])}")
    print(f"devices {counts[0]:,}, people {counts[1]:,}, events {counts[2]:,}")
    print(f"wall time: {wall:.1f} s (target < {TARGET_SECONDS} s)")
    print(f"peak RSS of seed_demo: {peak_mb:.0f} MB (target < {TARGET_RSS_MB} MB)")
    print(
        "load average (1/5/15 min) before: {:.2f} {:.2f} {:.2f}, after: {:.2f} {:.2f} {:.2f} "
        "(shared 2-core machine)".format(*load_before, *load_after)
    )
    ok = wall < TARGET_SECONDS and peak_mb < TARGET_RSS_MB and counts[0] == args.devices
    print("RESULT:", "within target" if ok else "MISSED target")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
