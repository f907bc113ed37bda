"""How fast are the estate pages on a big estate? ("find any device in a second")

Builds the demo estate (devices.demo.estate_seed) in its own database if empty,
then renders each page through Django's test client, signed in, and prints the
median of several runs plus the number of queries.

    createdb -h 127.0.0.1 -U postgres bench_frontend
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_frontend .venv/bin/python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_frontend .venv/bin/python bench/device_pages.py [--devices 1000000]

Target: every page under 1 s at 1,000,000 devices (the business case's estate is ~80,000).
"""

from __future__ import annotations

import argparse
import datetime as dt
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
from django.db import connection, reset_queries  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from accounts.models import BusinessUnit  # noqa: E402
from accounts.services import user_create  # noqa: E402
from devices.demo import estate_seed  # noqa: E402
from devices.listing import encode_cursor  # noqa: E402
from devices.models import Device  # noqa: E402


def timed(client: Client, url: str, runs: int) -> tuple[float, int, int]:
    client.get(url)  # warm the cache and the connection
    times = []
    queries = 0
    for _ in range(runs):
        reset_queries()
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            response = client.get(url)
            if response.streaming:
                b"".join(response.streaming_content)
            times.append(time.perf_counter() - started)
        queries = len(ctx.captured_queries)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(times), queries, response.status_code


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.AXES_ENABLED = False

    if not Device.objects.exists():
        started = time.monotonic()
        estate_seed(devices=args.devices, seed="bench", today=dt.date(2025, 11, 1))
        print(f"seeded {args.devices:,} devices in {time.monotonic() - started:.0f}s")
    total = Device.objects.count()
    engine = connection.vendor

    sample = Device.objects.order_by("id")[total // 2]
    last_id = Device.objects.order_by("-id").values_list("id", flat=True)[0]
    unit = BusinessUnit.objects.filter(level=BusinessUnit.Level.COMMAND).order_by("path").first()
    manager = user_create(username="bench-manager", role="asset-manager", password=None)
    viewer = user_create(
        username="bench-viewer", role="unit-viewer", password=None, unit_codes=[unit.code]
    )

    # A position 1,000 devices from the end, in the list's default order (added).
    deep = encode_cursor("v", None, last_id - 1000)
    pages = [
        ("dashboard, whole estate", manager, "/"),
        ("dashboard, one command", viewer, "/"),
        ("device list, first page", manager, "/devices/"),
        ("device list, deep page (keyset)", manager, f"/devices/?after={deep}"),
        ("device list, previous from deep", manager, f"/devices/?before={deep}"),
        ("search, exact asset tag", manager, f"/devices/?q={sample.asset_tag}"),
        ("search, exact serial", manager, f"/devices/?q={sample.serial_number}"),
        ("search, asset tag prefix", manager, f"/devices/?q={sample.asset_tag[:-2]}"),
        (
            "search, lower-case serial prefix",
            manager,
            f"/devices/?q={sample.serial_number[:6].lower()}",
        ),
        ("search, no match", manager, "/devices/?q=ZZZZ-NOTHING"),
        ("filter unit + status", manager, f"/devices/?business_unit={unit.code}&status=in_repair"),
        ("device list, one command", viewer, "/devices/"),
        ("device detail", manager, f"/devices/{sample.pk}/"),
    ]
    print(f"{engine}, {total:,} devices, median of {args.runs} runs")
    print(f"{'page':40} {'ms':>8} {'queries':>8}")
    clients = {}
    for label, user, url in pages:
        client = clients.get(user.pk)
        if client is None:
            client = clients[user.pk] = Client()
            client.force_login(user)
        seconds, queries, _ = timed(client, url, args.runs)
        print(f"{label:40} {seconds * 1000:8.1f} {queries:8d}")
    print("load:", os.getloadavg())


if __name__ == "__main__":
    main()
