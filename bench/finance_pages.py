"""How fast are the finance pages on a big estate? (issue 14: every page under 300 ms at
1,000,000 devices; issue 16: one headroom, the same on every output)

Loads the whole demo (``manage.py seed_demo --devices N``: the estate, refresh's
policies, eligibility and plan, the envelope with its orders) into its own database if
empty, then renders each finance page and download through Django's test client,
signed in as a finance officer, and prints the median of several runs with its query
count. The headroom selector alone is timed too: every page and export calls it.

    createdb -h 127.0.0.1 -U postgres bench_finance
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_finance .venv/bin/python bench/finance_pages.py [--devices 1000000]
    dropdb -h 127.0.0.1 -U postgres bench_finance

Target: each page under 300 ms at 1,000,000 devices.

``--skip-reports`` loads the demo without the reports app's step (at 1,000,000 devices
it runs for tens of minutes, and no finance page reads it). ``--recompute-cost``
(PostgreSQL) then times the eligibility recompute with the triggers that keep the
forecast's counts (refresh migration 0009) disabled and enabled, interleaved, and
checks the counts against a GROUP BY afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import logging
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from accounts.services import user_create  # noqa: E402
from demo.management.commands.seed_demo import DEMO_STEPS  # noqa: E402
from devices.demo import DEFAULT_SEED  # noqa: E402
from devices.models import Device  # noqa: E402
from procurement import selectors  # noqa: E402
from procurement.models import Contract, PurchaseOrder  # noqa: E402

TARGET_MS = 300


def timed(call, runs: int) -> tuple[float, int]:
    call()  # warm the connection and the caches
    times, queries = [], 0
    for _ in range(runs):
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            call()
            times.append(time.perf_counter() - started)
        queries = len(ctx.captured_queries)
    return statistics.median(times) * 1000, queries


def load() -> str:
    """``uptime``'s load averages, for the record."""
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def seed(devices: int, *, skip_reports: bool) -> None:
    started = time.monotonic()
    if not skip_reports:
        call_command("seed_demo", devices=devices, no_progress=True)
    else:
        # seed_demo's own steps, the reports app's left out.
        from django.utils import timezone

        today = timezone.localdate()
        call_command("seed_demo", devices=devices, no_progress=True, skip_hooks=True)
        for app, seed_app in DEMO_STEPS:
            if app != "reports":
                seed_app(rng=random.Random(f"{DEFAULT_SEED}:{app}"), today=today, stdout=sys.stdout)
    print(f"seeded the demo with {devices:,} devices in {time.monotonic() - started:.0f}s")


def recompute_cost(rounds: int) -> None:
    """The eligibility recompute's time with the forecast-count triggers off and on,
    interleaved so both see the same load, with the rows each step wrote; then the
    kept counts compared with a GROUP BY (and rebuilt if they differ)."""
    from django.db import transaction
    from django.utils import timezone

    from refresh.models import DeviceEligibility
    from refresh.services import eligibility_recompute

    if connection.vendor != "postgresql":
        raise SystemExit("--recompute-cost needs PostgreSQL")
    counts = importlib.import_module("refresh.migrations.0009_forecast_counts").ELIGIBILITY

    def triggers(on: bool) -> None:
        verb = "ENABLE" if on else "DISABLE"
        with connection.cursor() as cursor:
            for name in counts.postgresql_triggers():
                cursor.execute(f"ALTER TABLE {counts.source} {verb} TRIGGER {name}")

    today = timezone.localdate()
    later = today + dt.timedelta(days=400)

    def recompute(**kwargs):
        def step() -> tuple[float, int]:
            started = time.perf_counter()
            run = eligibility_recompute(**kwargs)
            took = time.perf_counter() - started
            # A recompute writes only the rows whose result changed, stamped with the
            # run's start: how many it inserted or rewrote.
            return took, DeviceEligibility.objects.filter(computed_at=run.started_at).count()

        return step

    def delete_all() -> tuple[float, int]:
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {counts.source}")
            deleted = cursor.rowcount
        return time.perf_counter() - started, deleted

    # Bring the table up to date first (the demo's later steps moved devices), with
    # the triggers on, so every round starts and ends on the same rows and the counts
    # can be checked against a GROUP BY after the rounds.
    eligibility_recompute(today=today)
    some = list(DeviceEligibility.objects.order_by("pk").values_list("pk", flat=True)[:20_000])
    steps = [
        ("full recompute, nothing changed", recompute(today=today)),
        ("full recompute 400 days on", recompute(today=later)),
        ("full recompute back to today", recompute(today=today)),
        (
            f"partial recompute of {len(some):,} devices 400 days on",
            recompute(today=later, device_ids=some),
        ),
        ("partial recompute of the same back to today", recompute(today=today, device_ids=some)),
        ("DELETE of every eligibility row", delete_all),
        ("full recompute into the empty table", recompute(today=today)),
    ]
    print(f"eligibility recompute, {DeviceEligibility.objects.count():,} rows; load {load()}")
    results: dict[str, dict[bool, list[float]]] = {name: {False: [], True: []} for name, _ in steps}
    written: dict[str, int] = {}
    try:
        for _ in range(rounds):
            for on in (False, True):
                triggers(on)
                for name, step in steps:
                    took, rows = step()
                    results[name][on].append(took)
                    written[name] = rows
    finally:
        triggers(True)
    print("| step | rows written | triggers off, s | triggers on, s |")
    print("|---|---:|---:|---:|")
    for name, _ in steps:
        off = ", ".join(f"{t:.2f}" for t in results[name][False])
        on = ", ".join(f"{t:.2f}" for t in results[name][True])
        print(f"| {name} | {written[name]:,} | {off} | {on} |")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {counts.key}, count(*) FROM {counts.source} GROUP BY {counts.key}")
        grouped = {tuple(row[:-1]): row[-1] for row in cursor.fetchall()}
        cursor.execute(f"SELECT {counts.key}, devices FROM {counts.table} WHERE devices <> 0")
        kept = {tuple(row[:-1]): row[-1] for row in cursor.fetchall()}
    print(
        f"kept counts equal a GROUP BY after the rounds: {kept == grouped} "
        f"({len(kept):,} keys, {sum(kept.values()):,} devices); load {load()}"
    )
    if kept != grouped:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {counts.table}")
            cursor.execute(counts.backfill())
        print("counts rebuilt from the table")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-reports", action="store_true", help="Seed without reports.")
    parser.add_argument(
        "--recompute-cost",
        type=int,
        default=0,
        metavar="ROUNDS",
        help="Also time the eligibility recompute, triggers off and on, ROUNDS times.",
    )
    args = parser.parse_args()
    # The security log notes every commercial download: not what is measured here.
    logging.disable(logging.INFO)
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.AXES_ENABLED = False

    call_command("migrate", verbosity=0)
    if not Device.objects.exists():
        seed(args.devices, skip_reports=args.skip_reports)
    print(f"{connection.vendor}, {Device.objects.count():,} devices; load {load()}")

    finance = user_create(username="bench-finance", role="finance", password=None)
    client = Client()
    client.force_login(finance)
    order = PurchaseOrder.objects.filter(status=PurchaseOrder.Status.SUBMITTED).first()
    contract = Contract.objects.order_by("pk").first()

    def page(url):
        def call():
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            if response.streaming:
                b"".join(response.streaming_content)

        return call

    cases = [
        ("headroom() selector", lambda: selectors.headroom(user=finance)),
        ("envelope page /procurement/", page("/procurement/")),
        ("envelope XLSX export", page("/procurement/export.xlsx")),
        ("envelope CSV export", page("/procurement/export.csv")),
        ("API envelope-position", page("/api/v1/procurement/envelope-position/")),
        ("purchase orders list", page("/procurement/orders/")),
        ("purchase order page (approval panel)", page(f"/procurement/orders/{order.pk}/")),
        ("contracts list", page("/procurement/contracts/")),
        ("contract page", page(f"/procurement/contracts/{contract.pk}/")),
        ("budget lines", page("/procurement/budget-lines/")),
    ]
    print(f"| page ({Device.objects.count():,} devices) | ms (median of {args.runs}) | queries |")
    print("|---|---:|---:|")
    worst = 0.0
    for name, call in cases:
        ms, queries = timed(call, args.runs)
        worst = max(worst, ms)
        print(f"| {name} | {ms:.0f} | {queries} |")
    print(
        f"worst {worst:.0f} ms; target {TARGET_MS} ms: {'met' if worst < TARGET_MS else 'NOT met'}"
        f"; load {load()}"
    )
    with CaptureQueriesContext(connection) as ctx:
        selectors.headroom(user=finance)
    slowest = sorted(ctx.captured_queries, key=lambda q: -float(q["time"]))[:3]
    print("headroom()'s slowest queries:")
    for query in slowest:
        print(f"  {float(query['time']) * 1000:.1f} ms  {query['sql'][:150]}")
    if args.recompute_cost:
        recompute_cost(args.recompute_cost)


if __name__ == "__main__":
    main()
