"""Run every benchmark in bench/, one after another, each in a fresh PostgreSQL
database of its own (created, migrated, then dropped), and print their figures.

    .venv/bin/python bench/run_all.py                 # all of them (most at 1,000,000 devices: hours in all)
    .venv/bin/python bench/run_all.py seed_demo api_devices

PGHOST/PGPORT/PGUSER (default 127.0.0.1:5432, postgres) say where PostgreSQL is.
Record what they print in bench/RESULTS.md with the machine's load at the time.
"""

import os
import subprocess  # noqa: S404 - runs this repository's own scripts and the PostgreSQL client tools
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PYTHON = sys.executable
SCRIPTS = [
    "seed_demo",
    "import_estate",
    "api_devices",
    "device_pages",
    "device_page",
    "list_home_http",
    "refresh_eligibility",
    "refresh_partial_recompute",
    "procurement_approvals",
    "finance_pages",
    "every_page",
    "disposals_flow",
    "reports_stewardship",
]


def run(args: list[str], env: dict | None = None) -> None:
    subprocess.run(args, cwd=ROOT, env=env, check=True)  # noqa: S603


def main(names: list[str]) -> int:
    unknown = sorted(set(names) - set(SCRIPTS))
    if unknown:
        print(f"Unknown benchmark(s): {', '.join(unknown)}. Choose from: {', '.join(SCRIPTS)}.")
        return 2
    host = os.environ.get("PGHOST", "127.0.0.1")
    port = os.environ.get("PGPORT", "5432")
    user = os.environ.get("PGUSER", "postgres")
    client = ["-h", host, "-p", port, "-U", user]
    for name in names or SCRIPTS:
        database = f"bench_run_{name}"
        env = dict(os.environ, DATABASE_URL=f"postgres://{user}@{host}:{port}/{database}")
        env.pop("REDIS_URL", None)  # the benchmarks run their tasks in-process
        print(
            f"\n=== {name} ({time.strftime('%H:%M:%S')}, load {os.getloadavg()[0]:.2f}) ===",
            flush=True,
        )
        run(["dropdb", *client, "--if-exists", database])
        run(["createdb", *client, database])
        try:
            run([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], env=env)
            run([PYTHON, str(BENCH / f"{name}.py")], env=env)
        finally:
            run(["dropdb", *client, "--if-exists", database])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
