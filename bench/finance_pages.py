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
"""

from __future__ import annotations

import argparse
import logging
import os
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    # The security log notes every commercial download: not what is measured here.
    logging.disable(logging.INFO)
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.AXES_ENABLED = False

    call_command("migrate", verbosity=0)
    if not Device.objects.exists():
        started = time.monotonic()
        call_command("seed_demo", devices=args.devices, no_progress=True)
        print(f"seeded the demo with {args.devices:,} devices in {time.monotonic() - started:.0f}s")
    print(f"{connection.vendor}, {Device.objects.count():,} devices")

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
    )


if __name__ == "__main__":
    main()
