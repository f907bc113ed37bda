"""Load test of the production-shaped stack: ``make load`` (``python bench/load.py``).

Starts the stack (ops/stack.py: gunicorn, Celery worker, beat; DEBUG off) against
its own database (``tracker_load``, seeded with 20,000 devices if empty), runs
locust headless against http://127.0.0.1 (bench/locustfile.py: 50 users for 5
minutes unless told otherwise), polls pg_stat_activity for the database's
connections throughout, then checks the issue's targets:

- zero failed requests;
- p95 under 300 ms for every page (``page:*``), under 100 ms for single-object API
  calls (``api:detail``, ``api:patch``);
- the peak of PostgreSQL connections within the connection budget
  (ops.stack.connection_budget);
- the background import and report run finished (succeeded).

Prints the figures and writes them to bench/out/load.json; exits 1 if a target is
missed. ``--run-time 1m`` for a trial.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ops.stack import Stack, connection_budget  # noqa: E402

OUT = ROOT / "bench" / "out"
PAGE_P95_MS = 300
SINGLE_API_P95_MS = 100
SINGLE_OBJECT = {"api:detail", "api:patch"}


class ConnectionPoller(threading.Thread):
    """Counts the database's connections (other than its own) every half second."""

    def __init__(self, database_url: str, database: str):
        super().__init__(daemon=True)
        self.database_url = database_url
        self.database = database
        self.peak = 0
        self.samples: list[int] = []
        self.stop = threading.Event()

    def run(self):
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as conn:
            while not self.stop.wait(0.5):
                count = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    [self.database],
                ).fetchone()[0]
                self.samples.append(count)
                self.peak = max(self.peak, count)


def _query(database_url: str, sql: str, params=()):
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--spawn-rate", type=float, default=5)
    parser.add_argument("--run-time", default="5m")
    parser.add_argument("--devices", type=int, default=20000)
    parser.add_argument("--port", type=int, default=8002)
    args = parser.parse_args(argv)

    OUT.mkdir(parents=True, exist_ok=True)
    stack = Stack(
        state_dir=ROOT / ".stack" / "load",
        database_url=os.environ.get(
            "LOAD_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tracker_load"
        ),
        port=args.port,
        queue="tracker-load",
    )
    print(f"preparing {stack.database_name} with {args.devices:,} devices", flush=True)
    stack.prepare(devices=args.devices)
    devices = _query(stack.database_url, "SELECT count(*) FROM devices_device")[0][0]
    unit_id, unit_code = _query(
        stack.database_url,
        "SELECT u.id, u.code FROM accounts_businessunit u JOIN devices_device d "
        "ON d.business_unit_id = u.id GROUP BY u.id, u.code ORDER BY count(*) DESC LIMIT 1",
    )[0]
    # One token per simulated API client: the rate limit is per token (API_RATE_LIMIT,
    # 600/min), and 25 clients sharing one would be refused by design, not by load.
    tokens = subprocess.run(  # noqa: S603 - our own manage.py
        [
            sys.executable,
            str(ROOT / "manage.py"),
            "shell",
            "--no-imports",
            "-c",
            "from django.contrib.auth import get_user_model\n"
            "from api.services import api_token_create, api_token_revoke\n"
            "user = get_user_model().objects.get(username='itsm.integration')\n"
            # The last run's tokens go first: each run makes its own.
            "api_token_revoke(user=user, all_tokens=True)\n"
            f"for _ in range({args.users}):\n"
            "    print(api_token_create(user=user, description='load test')[1])",
        ],
        cwd=ROOT,
        env=stack.environment(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    tokens = [word for word in tokens if len(word) >= 32]  # keys only, no chatter
    assert len(tokens) == args.users, "could not create the API tokens"
    started_at = dt.datetime.now(dt.UTC)
    stack.start()
    budget = connection_budget(stack.environment())
    poller = ConnectionPoller(stack.database_url, stack.database_name)
    poller.start()
    load_before = os.getloadavg()
    prefix = OUT / "load"
    env = {
        **os.environ,
        "LOAD_API_TOKENS": ",".join(tokens),
        "LOAD_UNIT": unit_code,
        "LOAD_UNIT_ID": str(unit_id),
        "LOAD_PERIOD": (
            dt.datetime.now(dt.UTC).date().replace(day=1) - dt.timedelta(days=1)
        ).strftime("%Y-%m"),
    }
    try:
        locust = subprocess.run(  # noqa: S603 - locust from our venv
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                str(ROOT / "bench" / "locustfile.py"),
                "--headless",
                "-u",
                str(args.users),
                "-r",
                str(args.spawn_rate),
                "--run-time",
                args.run_time,
                "--host",
                stack.base_url,
                "--csv",
                str(prefix),
                "--only-summary",
                "--stop-timeout",
                "10",
                "--loglevel",
                "WARNING",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        load_after = os.getloadavg()
        time.sleep(2)
        # The background work: the import and the report run the Background user asked for.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            imports = _query(
                stack.database_url,
                "SELECT status FROM devices_importrun WHERE created_at >= %s",
                [started_at],
            )
            reports = _query(
                stack.database_url,
                "SELECT status FROM reports_reportrun WHERE queued_at >= %s",
                [started_at],
            )
            if all(s[0] not in {"queued", "running"} for s in imports + reports):
                break
            time.sleep(2)
    finally:
        poller.stop.set()
        poller.join(timeout=5)
        stack.stop()

    rows = list(csv.DictReader((prefix.parent / f"{prefix.name}_stats.csv").open()))
    failures = list(csv.DictReader((prefix.parent / f"{prefix.name}_failures.csv").open()))
    by_name = {row["Name"]: row for row in rows if row["Name"] != "Aggregated"}
    total = next(row for row in rows if row["Name"] == "Aggregated")
    checks = []
    checks.append(
        (
            "zero errors",
            int(total["Failure Count"]) == 0,
            f"{total['Failure Count']} of {total['Request Count']} requests failed",
        )
    )
    for name, row in sorted(by_name.items()):
        p95 = float(row["95%"])
        if name.startswith("page:"):
            checks.append((f"{name} p95 < {PAGE_P95_MS} ms", p95 < PAGE_P95_MS, f"{p95:.0f} ms"))
        elif name in SINGLE_OBJECT:
            checks.append(
                (f"{name} p95 < {SINGLE_API_P95_MS} ms", p95 < SINGLE_API_P95_MS, f"{p95:.0f} ms")
            )
    checks.append(
        (
            "peak connections within budget",
            poller.peak <= budget["total"],
            f"peak {poller.peak}, budget {budget['total']} {budget}",
        )
    )
    background = [s[0] for s in imports + reports]
    checks.append(
        (
            "background import and report run succeeded",
            len(imports) >= 1 and len(reports) >= 1 and all(s == "succeeded" for s in background),
            f"imports {[s[0] for s in imports]}, reports {[s[0] for s in reports]}",
        )
    )

    result = {
        "command": " ".join(["python bench/load.py", *(argv or sys.argv[1:])]),
        "date": started_at.isoformat(timespec="seconds"),
        "devices": devices,
        "users": args.users,
        "run_time": args.run_time,
        "load_average_before": load_before,
        "load_average_after": load_after,
        "cpus": os.cpu_count(),
        "requests": int(total["Request Count"]),
        "failures": int(total["Failure Count"]),
        "requests_per_s": float(total["Requests/s"]),
        "by_name": {
            name: {
                "requests": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                "median_ms": float(row["Median Response Time"]),
                "p95_ms": float(row["95%"]),
                "p99_ms": float(row["99%"]),
                "max_ms": float(row["Max Response Time"]),
            }
            for name, row in sorted(by_name.items())
        },
        "failure_samples": failures[:10],
        "peak_connections": poller.peak,
        "budget": budget,
        "checks": [{"target": t, "met": ok, "figure": f} for t, ok, f in checks],
        "locust_stderr_tail": locust.stderr[-3000:],
    }
    (OUT / "load.json").write_text(json.dumps(result, indent=2))
    print(
        f"{result['requests']:,} requests, {result['requests_per_s']:.1f}/s, "
        f"{result['failures']} failed; peak connections {poller.peak}"
    )
    print(f"{'name':24} {'n':>7} {'fail':>5} {'p50':>6} {'p95':>6} {'p99':>6} {'max':>7}")
    for name, row in result["by_name"].items():
        print(
            f"{name:24} {row['requests']:>7} {row['failures']:>5} {row['median_ms']:>6.0f} "
            f"{row['p95_ms']:>6.0f} {row['p99_ms']:>6.0f} {row['max_ms']:>7.0f}"
        )
    for target, ok, figure in checks:
        print(f"{'MET   ' if ok else 'MISSED'} {target}: {figure}")
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
