"""Estate import benchmark (PostgreSQL).

    createdb -h 127.0.0.1 -U postgres bench_importer
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_importer .venv/bin/python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_importer .venv/bin/python bench/import_estate.py

1. 100,000-row CSV, half new devices and half changes to existing ones, imported
   end to end (read, parse, validate, upsert, events, import record) and, in
   the same run on the same starting data, the raw reference: COPY of the same
   file into a staging table plus one INSERT ... SELECT ... ON CONFLICT DO
   UPDATE (no validation, no events), timed to the end of its commit as the
   import is (the figure without the commit is printed too, as recorded before
   2026-11-25 22:00 UTC). Target: the import reaches at least 50% of the
   reference's rows/s.
2. 1,000,000 rows (half new, half changed) in a child process, so its peak
   RSS is the import's alone. Targets: under 60 s and under 500 MB.

Options: --rows N (default 100000), --million-rows N (default 1000000, 0 skips).
Data is generated from a seeded random.Random in a temporary directory.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402

from devices.importing import services as import_services  # noqa: E402
from devices.importing.services import import_run_create, import_run_execute  # noqa: E402
from devices.models import (  # noqa: E402
    BusinessUnit,
    Category,
    DeviceModel,
    Entitlement,
    ImportRun,
    Manufacturer,
    Person,
    RoleProfile,
)

HEADER = [
    "serial_number",
    "manufacturer",
    "model",
    "category",
    "business_unit",
    "asset_tag",
    "assigned_to",
    "status",
    "purchase_date",
    "warranty_expires",
    "purchase_cost",
    "location",
    "last_seen",
    "os_version",
]
MAKERS = {
    "Dell": [
        ("Latitude 5440", "laptop"),
        ("Latitude 7450", "laptop"),
        ("OptiPlex 7010", "desktop"),
        ("P2423", "monitor"),
    ],
    "HP": [("EliteBook 840", "laptop"), ("ProDesk 600", "desktop"), ("E24 G5", "monitor")],
    "Lenovo": [("ThinkPad T14", "laptop"), ("ThinkCentre M70", "desktop")],
    "Apple": [("iPhone 15", "smartphone"), ("iPad 10", "tablet")],
    "Samsung": [("Galaxy S24", "smartphone"), ("Galaxy A55", "smartphone")],
}
UNITS = 200
PEOPLE = 20_000
LOCATIONS = [f"Station {i}" for i in range(120)]
OSES = ["Windows 11 23H2", "Windows 11 24H2", "iOS 17", "iOS 18", "Android 14"]

REFERENCE_SQL = """
INSERT INTO devices_device (manufacturer_id, serial_number, asset_tag, device_model_id, status,
    business_unit_id, assigned_to_id, location, purchase_date, warranty_expires, purchase_cost,
    last_seen, os_version, version, created_at, updated_at, historical)
SELECT m.id, s.serial_number, NULLIF(s.asset_tag, ''), dm.id,
       COALESCE(NULLIF(s.status, ''), 'in_stock'), bu.id, p.id, s.location,
       NULLIF(s.purchase_date, '')::date, NULLIF(s.warranty_expires, '')::date,
       NULLIF(replace(replace(s.purchase_cost, '£', ''), ',', ''), '')::numeric,
       NULLIF(s.last_seen, '')::timestamptz, s.os_version, 1, now(), now(), false
FROM bench_stage s
JOIN devices_manufacturer m ON m.name = s.manufacturer
JOIN devices_devicemodel dm ON dm.manufacturer_id = m.id AND dm.name = s.model
JOIN accounts_businessunit bu ON bu.code = s.business_unit
LEFT JOIN devices_person p ON p.staff_number = NULLIF(s.assigned_to, '')
ON CONFLICT (manufacturer_id, serial_number) DO UPDATE SET
    asset_tag = EXCLUDED.asset_tag, device_model_id = EXCLUDED.device_model_id,
    status = EXCLUDED.status, business_unit_id = EXCLUDED.business_unit_id,
    assigned_to_id = EXCLUDED.assigned_to_id, location = EXCLUDED.location,
    purchase_date = EXCLUDED.purchase_date, warranty_expires = EXCLUDED.warranty_expires,
    purchase_cost = EXCLUDED.purchase_cost, last_seen = EXCLUDED.last_seen,
    os_version = EXCLUDED.os_version, version = devices_device.version + 1, updated_at = now()
"""
STAGE_DDL = (
    "CREATE TEMP TABLE bench_stage (" + ", ".join(f"{c} text" for c in HEADER) + ") ON COMMIT DROP"
)


def reset_estate() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE devices_deviceevent, devices_device, devices_historicaldevice, "
            "devices_importrun RESTART IDENTITY CASCADE"
        )


def seed_reference_data() -> None:
    """Units, people, makers and models (idempotent)."""
    from accounts.services import business_unit_save

    if not BusinessUnit.objects.filter(code="BENCH").exists():
        root = business_unit_save(
            unit=BusinessUnit(code="BENCH", name="Bench", level="directorate")
        )
        BusinessUnit.objects.bulk_create(
            BusinessUnit(code=f"BU{i:03d}", name=f"Unit {i}", parent=root, path=f"BENCH/BU{i:03d}/")
            for i in range(UNITS)
        )
    role, _ = RoleProfile.objects.get_or_create(code="bench", defaults={"name": "Bench"})
    # The bench deals each person up to ~17 devices of a 1M-row file: an entitlement
    # wide enough that every row is checked against it and none is refused by it.
    for category in Category.values:
        Entitlement.objects.get_or_create(
            role_profile=role, category=category, defaults={"quantity": 100}
        )
    if not Person.objects.filter(staff_number__startswith="B").exists():
        units = list(
            BusinessUnit.objects.filter(code__startswith="BU").values_list("pk", flat=True)
        )
        import datetime as dt

        Person.objects.bulk_create(
            (
                Person(
                    staff_number=f"B{i:07d}",
                    business_unit_id=units[i % len(units)],
                    role_profile=role,
                    start_date=dt.date(2020, 1, 1),
                )
                for i in range(PEOPLE)
            ),
            batch_size=5000,
        )
    for maker, models in MAKERS.items():
        manufacturer, _ = Manufacturer.objects.get_or_create(name=maker)
        for name, category in models:
            DeviceModel.objects.get_or_create(
                manufacturer=manufacturer, name=name, defaults={"category": Category(category)}
            )


def device_line(rng: random.Random, n: int, *, variant: int) -> list[str]:
    """Row ``n`` of the estate; ``variant`` changes location, OS and last seen."""
    maker = list(MAKERS)[n % len(MAKERS)]
    model, category = MAKERS[maker][(n // len(MAKERS)) % len(MAKERS[maker])]
    deployed = n % 3 == 0
    cost = 250 + (n * 37) % 1500
    return [
        f"BN{n:09d}",
        maker,
        model,
        category,
        f"BU{n % UNITS:03d}",
        f"BT{n:09d}",
        f"B{n % PEOPLE:07d}" if deployed else "",
        "deployed" if deployed else "in_stock",
        f"20{19 + n % 6}-{1 + n % 12:02d}-{1 + n % 28:02d}",
        f"20{24 + n % 6}-{1 + n % 12:02d}-{1 + n % 28:02d}",
        f"£{cost:,}.{n % 100:02d}",
        LOCATIONS[(n + variant * 7) % len(LOCATIONS)],
        f"2025-{1 + (n + variant) % 12:02d}-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:00Z",
        OSES[(n + variant) % len(OSES)] if rng.random() < 0.9 else OSES[0],
    ]


def write_csv(path: Path, numbers, *, variant: int, seed: int) -> None:
    import csv

    rng = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for n in numbers:
            writer.writerow(device_line(rng, n, variant=variant))


def copy_upsert(path: Path, *, commit: bool) -> tuple[float, float]:
    """The raw reference: COPY into a staging table + one INSERT ... ON CONFLICT.
    Returns (seconds to the end of the statement, seconds including the commit)."""
    started = time.perf_counter()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(STAGE_DDL)
            with (
                open(path, "rb") as handle,
                cursor.cursor.copy(
                    "COPY bench_stage FROM STDIN WITH (FORMAT csv, HEADER true)"
                ) as copy,
            ):
                while chunk := handle.read(1 << 20):
                    copy.write(chunk)
            cursor.execute(REFERENCE_SQL)
        statement = time.perf_counter() - started
        if not commit:
            transaction.set_rollback(True)
    # The commit is part of the work (the deferred foreign-key checks of every
    # inserted row run there), as it is in the import's own time; the figure
    # recorded before 22:00 UTC on 2026-11-25 stopped the clock before it.
    return statement, time.perf_counter() - started


def run_import(path: Path) -> tuple[float, ImportRun]:
    started = time.perf_counter()
    run = import_run_create(file_name=path.name, path=path, origin=ImportRun.Origin.COMMAND)
    run = import_run_execute(run=run, path=path)
    return time.perf_counter() - started, run


def prepare(tmp: Path, rows: int, seed: int) -> Path:
    """Existing estate = the first half (committed via the raw path), and a file
    whose first half changes those devices and second half is new."""
    reset_estate()
    seed_reference_data()
    half = rows // 2
    base = tmp / f"base-{rows}.csv"
    write_csv(base, range(half), variant=0, seed=seed)
    copy_upsert(base, commit=True)
    base.unlink()
    changes = tmp / f"estate-{rows}.csv"
    write_csv(changes, range(rows), variant=1, seed=seed + 1)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE devices_device")
    return changes


def child_million(path: str) -> None:
    """Runs in a child process: the 1M import alone, then its peak RSS."""
    elapsed, run = run_import(Path(path))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"RESULT {elapsed:.2f} {peak_mb:.0f} {run.status} {run.created_count} "
        f"{run.updated_count} {run.unchanged_count} {run.rejected_count}"
    )


# An import that changed devices announces it (devices.signals.estate_changed) and
# the refresh app queues an eligibility recompute for a worker; with no Redis it
# would run inline and be timed as the import's, so the bench announces nothing.
import_services.estate_changed_announce = lambda **kwargs: None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--million-rows", type=int, default=1_000_000)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    assert connection.vendor == "postgresql", "set DATABASE_URL to a PostgreSQL database"
    if args.child:
        child_million(args.child)
        return
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        # Both runs commit, and both start from the same estate: the reference
        # runs first, then the estate is rebuilt before the import.
        path = prepare(tmp, args.rows, seed=20241125)
        reference_no_commit, reference = copy_upsert(path, commit=True)
        path = prepare(tmp, args.rows, seed=20241125)
        elapsed, run = run_import(path)
        ref_rate, imp_rate = args.rows / reference, args.rows / elapsed
        print(f"{args.rows:,} rows, half new and half changed")
        print(f"  raw COPY + INSERT ... ON CONFLICT : {reference:6.2f} s  {ref_rate:8,.0f} rows/s")
        print(
            f"    (without its commit              : {reference_no_commit:6.2f} s  "
            f"{args.rows / reference_no_commit:8,.0f} rows/s; ratio to that "
            f"{reference_no_commit / elapsed:.0%})"
        )
        print(
            f"  import end to end                 : {elapsed:6.2f} s  {imp_rate:8,.0f} rows/s  "
            f"(created {run.created_count:,}, updated {run.updated_count:,}, "
            f"rejected {run.rejected_count:,}, status {run.status})"
        )
        print(f"  ratio import / reference          : {imp_rate / ref_rate:.0%} (target >= 50%)")
        path.unlink()
        if args.million_rows:
            path = prepare(tmp, args.million_rows, seed=20241126)
            print(f"load: {os.getloadavg()[0]:.2f}")
            output = subprocess.run(  # noqa: S603 - our own script, fixed arguments
                [sys.executable, __file__, "--child", str(path)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            line = next(x for x in output.splitlines() if x.startswith("RESULT"))
            _, secs, peak, status, created, updated, unchanged, rejected = line.split()
            print(f"{args.million_rows:,} rows, half new and half changed, in a child process")
            print(
                f"  import end to end: {float(secs):6.2f} s ({args.million_rows / float(secs):,.0f}"
                f" rows/s), peak RSS {peak} MB (targets < 60 s, < 500 MB); created {created}, "
                f"updated {updated}, unchanged {unchanged}, rejected {rejected}, status {status}"
            )
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")


if __name__ == "__main__":
    main()
