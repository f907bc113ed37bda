"""How fast is the device page (workspace) on a big estate? Target: under 300 ms at
1,000,000 devices (issue 14: "every page under 300 ms"), whatever the device's history.

Builds the demo estate (devices.demo.estate_seed) and refresh's demo data (policies,
OS end-of-support dates, a whole-estate eligibility run, a wave in progress) in its
own database when they are missing, then renders the device page for the devices that
carry the most: the longest history, one due for refresh and in a wave, one whose
holder has an AT check, plus an action form. Median of several runs through Django's
test client, signed in, with the number of queries.

    createdb -h 127.0.0.1 -U postgres bench_devpage
    DJANGO_DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_devpage \\
        .venv/bin/python manage.py migrate
    DJANGO_DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_devpage \\
        .venv/bin/python bench/device_page.py [--devices 1000000] [--runs 7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
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
from django.db import connection  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from accounts.services import user_create  # noqa: E402
from devices.demo import estate_seed  # noqa: E402
from devices.models import ATCheck, Device, DeviceEvent  # noqa: E402
from refresh import demo as refresh_demo  # noqa: E402
from refresh.models import DeviceEligibility, RefreshPolicy, WaveItem  # noqa: E402

TODAY = dt.date(2025, 11, 1)


def timed(client: Client, url: str, runs: int) -> tuple[float, float, int]:
    client.get(url)  # warm the connection and the caches
    times, queries = [], 0
    for _ in range(runs):
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - started)
        queries = len(ctx.captured_queries)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(times), max(times), queries


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.AXES_ENABLED = False

    if not Device.objects.exists():
        started = time.monotonic()
        estate_seed(devices=args.devices, seed="bench", today=TODAY)
        print(f"seeded {args.devices:,} devices in {time.monotonic() - started:.0f}s")
    if not RefreshPolicy.objects.exists():
        started = time.monotonic()
        refresh_demo.seed(rng=random.Random("bench"), today=TODAY, stdout=io.StringIO())  # noqa: S311
        print(f"refresh demo data and eligibility in {time.monotonic() - started:.0f}s")

    manager = user_create(
        username=f"bench-am-{time.time_ns()}", role="asset-manager", password=None
    )
    longest = (
        DeviceEvent.objects.values("device_id")
        .annotate(n=Count("id"))
        .order_by("-n")
        .values_list("device_id", "n")
        .first()
    )
    in_wave = (
        WaveItem.objects.filter(old_device__status=Device.Status.DEPLOYED)
        .values_list("old_device_id", flat=True)
        .first()
    )
    due = (
        DeviceEligibility.objects.filter(is_due=True, in_use=True)
        .values_list("device_id", flat=True)
        .first()
    )
    at_check = ATCheck.objects.values_list("device_id", flat=True).first()
    in_stock = (
        Device.objects.filter(status=Device.Status.IN_STOCK).values_list("pk", flat=True).first()
    )
    device = Device.objects.select_related("business_unit").get(pk=due or longest[0])
    viewer = user_create(
        username=f"bench-viewer-{time.time_ns()}",
        role="unit-viewer",
        password=None,
        unit_codes=[device.business_unit.code],
    )
    pages = [
        (f"longest history ({longest[1]} events)", manager, f"/devices/{longest[0]}/"),
        ("due for refresh, deployed", manager, f"/devices/{device.pk}/"),
        ("due for refresh, unit viewer", viewer, f"/devices/{device.pk}/"),
    ]
    if in_wave:
        pages.append(("old device of a swap in a wave", manager, f"/devices/{in_wave}/"))
    if at_check:
        pages.append(("with an AT check", manager, f"/devices/{at_check}/"))
    if in_stock:
        pages.append(("in stock (deploy form)", manager, f"/devices/{in_stock}/"))
        pages.append(("action page: send for repair", manager, f"/devices/{in_stock}/repair/"))
    total = Device.objects.count()
    print(f"{connection.vendor}, {total:,} devices, median of {args.runs} runs")
    print(f"{'device page':42} {'median ms':>10} {'max ms':>8} {'queries':>8}")
    clients: dict[int, Client] = {}
    for label, user, url in pages:
        client = clients.get(user.pk)
        if client is None:
            client = clients[user.pk] = Client()
            client.force_login(user)
        median, worst, queries = timed(client, url, args.runs)
        print(f"{label:42} {median * 1000:10.1f} {worst * 1000:8.1f} {queries:8d}")
    print("load:", os.getloadavg())


if __name__ == "__main__":
    main()
