"""Eligibility after an import at 1,000,000 devices on PostgreSQL: the recompute of the
devices an import changed (``device_ids``, what ``devices.signals.estate_changed``
now carries) beside the whole estate's, in the same run.

    createdb -h 127.0.0.1 -U postgres bench_refresh_partial
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_refresh_partial .venv/bin/python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_refresh_partial .venv/bin/python bench/refresh_partial_recompute.py

The estate is made in the database with generate_series (1,000,000 devices over 200
units, 50,000 people, 300,000 repair events), shaped as bench/refresh_eligibility.py's
but within today's rules (a deployed device has a holder; a disposed one is marked
historical), unless it is already there. Each timed run is "the
next day", so rows really change. Target: a 4-row import's recompute in well under a
second (it ran inline for 8.5 s in the browser when it recomputed the whole estate).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from django.db import connection  # noqa: E402
from refresh_eligibility import (  # noqa: E402
    TODAY,
    UNITS,
    log,
    reference_data,
    services_unit,
    vacuum,
)

from devices.models import Category, Device, DeviceModel, Manufacturer, RoleProfile  # noqa: E402
from refresh import services  # noqa: E402


def generate(devices: int, people: int, repairs: int) -> None:
    """The estate, in the database; reference data through the ORM."""
    if Device.objects.count() >= devices:
        log(f"estate already present ({Device.objects.count():,} devices)")
        return
    assert not Device.objects.exists(), "bench database has a partial estate: drop it"
    started = time.monotonic()
    root = services_unit("BENCH", None)
    unit_ids = [services_unit(f"BU{i:04d}", root).pk for i in range(UNITS)]
    maker = Manufacturer.objects.create(name="BenchMaker")
    model_ids = [
        DeviceModel.objects.create(
            manufacturer=maker,
            name=f"{category}-{n}",
            category=category,
            end_of_support=dt.date(2024, 1, 1) if n == 0 else dt.date(2032, 1, 1),
        ).pk
        for category in Category.values
        for n in range(4)
    ]
    role = RoleProfile.objects.create(code="bench", name="Bench role")
    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO devices_person (staff_number, business_unit_id, role_profile_id,
                at_needs, at_note, start_date, leaver_date)
            SELECT 'P' || i, (%s::int[])[(1 + i %% %s)::int], %s, false, '',
                   date '2015-01-01', NULL
            FROM generate_series(1::bigint, %s) AS i
            """,
            [unit_ids, len(unit_ids), role.pk, people],
        )
        cur.execute("SELECT min(id) FROM devices_person")
        first_person = cur.fetchone()[0]
        cur.execute(
            """
            INSERT INTO devices_device (asset_tag, serial_number, manufacturer_id,
                device_model_id, status, business_unit_id, assigned_to_id, location,
                purchase_date, warranty_expires, purchase_cost, last_seen, os_version,
                historical, version, created_at, updated_at)
            SELECT NULL, 'S' || i, %s, (%s::int[])[(1 + i %% %s)::int], s.status,
                (%s::int[])[(1 + (i / 7) %% %s)::int],
                CASE WHEN s.status IN ('deployed', 'in_repair')
                     THEN %s + (i %% %s) END,
                '', date '2015-01-01' + ((i * 7919) %% 4000)::int,
                date '2018-01-01' + ((i * 7919) %% 4000)::int, NULL,
                CASE WHEN s.status = 'deployed'
                     THEN now() - make_interval(days => ((i * 31) %% 200)::int) END,
                CASE WHEN i %% 3 = 0 THEN 'Windows 10 22H2' ELSE 'Windows 11 23H2' END,
                s.status = 'disposed', 1, now(), now()
            FROM generate_series(1::bigint, %s) AS i
            CROSS JOIN LATERAL (SELECT CASE
                WHEN i %% 20 < 13 THEN 'deployed' WHEN i %% 20 < 17 THEN 'in_stock'
                WHEN i %% 20 = 17 THEN 'in_repair' WHEN i %% 20 = 18 THEN 'disposed'
                ELSE 'returned' END AS status) s
            """,
            [
                maker.pk,
                model_ids,
                len(model_ids),
                unit_ids,
                len(unit_ids),
                first_person,
                people,
                devices,
            ],
        )
        cur.execute("SELECT min(id) FROM devices_device")
        first = cur.fetchone()[0]
        cur.execute(
            """
            INSERT INTO devices_deviceevent (device_id, kind, occurred_at, recorded_by_id,
                from_status, to_status, source, details)
            SELECT %s + (j * 104729) %% %s, 'repaired',
                   now() - make_interval(days => ((j * 13) %% 3000)::int), NULL, '', '',
                   'bench', '{}'
            FROM generate_series(1::bigint, %s) AS j
            """,
            [first, devices, repairs],
        )
        cur.execute("ANALYZE")
    log(f"generated {devices:,} devices in {time.monotonic() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    assert connection.vendor == "postgresql", "run against PostgreSQL (DATABASE_URL)"
    generate(args.devices, people=50_000, repairs=300_000)
    reference_data()
    services.eligibility_recompute(today=TODAY)
    vacuum()
    with connection.cursor() as cur:
        cur.execute("SELECT min(id), max(id) FROM devices_device")
        first, last = cur.fetchone()
    day = {"n": 0}

    def next_day() -> dt.date:
        day["n"] += 1
        return TODAY + dt.timedelta(days=day["n"])

    def ids(n: int) -> list[int]:
        # Spread over the estate, as an import's rows are (not one neighbourhood of
        # ids), and the same for every run of the script (seeded by the run's day).
        return random.Random(day["n"]).sample(range(first, last + 1), n)

    rows = []
    for label, count in (
        ("4 devices (a 4-row import)", 4),
        ("1,000 devices", 1_000),
        ("20,000 devices (the signal's limit)", 20_000),
        ("whole estate", None),
    ):
        times, touched = [], []
        for _ in range(args.runs):
            vacuum()
            chosen = ids(count) if count else None
            started = time.perf_counter()
            run = services.eligibility_recompute(
                trigger="import", today=next_day(), device_ids=chosen
            )
            times.append(time.perf_counter() - started)
            touched.append(run.device_count)
        rows.append((label, statistics.median(times), min(times), max(times), touched[-1]))

    log("")
    log(f"| recompute ({args.devices:,} devices) | median s | min s | max s | rows covered |")
    log("|---|---:|---:|---:|---:|")
    for label, median, low, high, covered in rows:
        log(f"| {label} | {median:.3f} | {low:.3f} | {high:.3f} | {covered:,} |")
    log(f"\nmedian of {args.runs} runs each (vacuumed between, untimed); load {os.getloadavg()}")


if __name__ == "__main__":
    main()
