"""Stewardship reports at 1,000,000 devices (PostgreSQL).

    createdb -h 127.0.0.1 -U postgres bench_reports
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_reports .venv/bin/python bench/reports_stewardship.py [--devices 1000000] [--workers 2] [--skip-all]

Builds its own estate with SQL generate_series (40 units: MET > 3 directorates >
6 commands > 30 units; people at 0.56 per device; a received event per device, a
deployed event per deployed device and a lost event per lost device), then measures:

1. the summary figures for ALL units (one grouped query per section, rolled up by path,
   read on two connections in one snapshot; the sequential path interleaved with it,
   and both checked identical) target < 1 s;
2. one unit's XLSX (about 25,000 device rows), time and extra memory (tracemalloc peak
   and RSS growth), target < 10 s and < 50 MB; its CSV and PDF too;
3. every unit's files (XLSX, CSV, PDF for all 40 units; device rows per the
   REPORTS_MAX_DEVICE_ROWS rule, figures including sub-units), with
   ``--workers`` processes sharing the runs through the compare-and-swap start, time
   and peak RSS per worker, target < 2 minutes and < 500 MB per worker.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

PERIOD_START = dt.date(2026, 10, 1)
PERIOD_END = dt.date(2026, 10, 31)


def setup(media_root: str | None = None) -> None:
    if media_root:
        os.environ["MEDIA_ROOT"] = media_root
    django.setup()


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_estate(devices: int) -> None:
    from django.db import connection

    from accounts.models import BusinessUnit
    from accounts.services import business_unit_save
    from devices.models import (
        Category,
        DeviceModel,
        Entitlement,
        Manufacturer,
        RoleProfile,
    )

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM devices_device")
        if cursor.fetchone()[0] >= devices:
            print(f"estate already has >= {devices:,} devices; reusing it")
            return
        cursor.execute(
            "TRUNCATE reports_reportrun, devices_deviceevent, devices_device, devices_entitlementexception, "
            "devices_person RESTART IDENTITY CASCADE"
        )
    started = time.perf_counter()

    def unit(code, parent=None, level="unit"):
        existing = BusinessUnit.objects.filter(code=code).first()
        if existing:
            return existing
        return business_unit_save(
            unit=BusinessUnit(
                code=code,
                name=f"Unit {code}",
                parent=parent,
                level=level,
                stewardship_email=f"{code.lower()}@example.police.uk",
            )
        )

    root = unit("MET", level="directorate")
    holders = []
    for d in range(3):
        directorate = unit(f"D{d}", root, "directorate")
        for c in range(2):
            command = unit(f"D{d}C{c}", directorate, "command")
            holders.append(command.pk)
            for u in range(5):
                holders.append(unit(f"D{d}C{c}U{u}", command).pk)
    roles = {}
    for code, ents in {
        "response": {Category.LAPTOP: 1, Category.SMARTPHONE: 1},
        "desk": {Category.DESKTOP: 1, Category.MONITOR: 2},
        "hybrid": {Category.LAPTOP: 1, Category.MONITOR: 2},
    }.items():
        role, _ = RoleProfile.objects.get_or_create(code=code, defaults={"name": code})
        for category, quantity in ents.items():
            Entitlement.objects.update_or_create(
                role_profile=role, category=category, defaults={"quantity": quantity}
            )
        roles[code] = role.pk
    maker, _ = Manufacturer.objects.get_or_create(name="Dell")
    models = {}
    for category in (Category.LAPTOP, Category.DESKTOP, Category.MONITOR, Category.SMARTPHONE):
        model, _ = DeviceModel.objects.get_or_create(
            manufacturer=maker, name=f"Model {category}", defaults={"category": category}
        )
        models[category] = model.pk
    people = int(devices * 0.5625)
    units_array = "ARRAY[" + ",".join(map(str, holders)) + "]::bigint[]"
    role_array = f"ARRAY[{roles['response']},{roles['desk']},{roles['hybrid']}]::bigint[]"
    with connection.cursor() as cursor:
        # People: 1% left in September 2026 (leavers), spread evenly over the 36 holding units.
        cursor.execute(
            f"""
            INSERT INTO devices_person (staff_number, business_unit_id, role_profile_id, at_needs, at_note,
                                        start_date, leaver_date)
            SELECT 'B' || lpad(g::text, 8, '0'), ({units_array})[1 + g % {len(holders)}],
                   ({role_array})[1 + g % 3], g % 97 = 0, '', date '2018-01-01',
                   CASE WHEN g % 100 = 0 THEN date '2026-09-15' END
            FROM generate_series(0, {people - 1}) g
            """
        )
        cursor.execute("SELECT min(id) FROM devices_person")
        pmin = cursor.fetchone()[0]
        # Deployed devices: each person's first device (laptop or desktop by role), then a
        # second (smartphone or monitor) for the first people until 70% of devices; 0.2% get
        # an extra laptop (over entitlement).
        deployed = int(devices * 0.70)
        model_case = (
            f"CASE WHEN (p.role_profile_id = {roles['desk']}) THEN "
            f"  CASE WHEN g < {people} THEN {models[Category.DESKTOP]} ELSE {models[Category.MONITOR]} END "
            f"ELSE CASE WHEN g < {people} THEN {models[Category.LAPTOP]} "
            f"  WHEN p.role_profile_id = {roles['hybrid']} THEN {models[Category.MONITOR]} "
            f"  ELSE {models[Category.SMARTPHONE]} END END"
        )
        cursor.execute(
            f"""
            INSERT INTO devices_device (asset_tag, serial_number, manufacturer_id, device_model_id, status,
                business_unit_id, assigned_to_id, location, purchase_date, warranty_expires, purchase_cost,
                last_seen, os_version, version, created_at, updated_at)
            SELECT 'T' || lpad(g::text, 8, '0'), 'S' || lpad(g::text, 9, '0'), {maker.pk}, {model_case},
                   CASE WHEN g % 33 = 0 THEN 'in_repair' ELSE 'deployed' END,
                   p.business_unit_id, p.id, CASE WHEN g % 5000 = 0 THEN '=HYPERLINK("x")' ELSE 'Site ' || (g % 90) END,
                   date '2017-04-01' + (g % 3000), date '2020-04-01' + (g % 3000), 899.00,
                   CASE WHEN g % 50 = 0 THEN NULL ELSE timestamptz '2026-10-31 12:00+00' - ((g % 200) || ' days')::interval END,
                   'Windows 11', 1, now(), now()
            FROM generate_series(0, {deployed - 1}) g
            JOIN devices_person p ON p.id = {pmin} + (g % {people})
            """
        )
        extra = max(1, people // 500)
        cursor.execute(
            f"""
            INSERT INTO devices_device (asset_tag, serial_number, manufacturer_id, device_model_id, status,
                business_unit_id, assigned_to_id, location, purchase_date, last_seen, os_version, version,
                created_at, updated_at)
            SELECT 'X' || lpad(g::text, 8, '0'), 'XS' || lpad(g::text, 9, '0'), {maker.pk}, {models[Category.LAPTOP]},
                   'deployed', p.business_unit_id, p.id, 'Extra', date '2023-01-01',
                   timestamptz '2026-10-20 12:00+00', 'Windows 11', 1, now(), now()
            FROM generate_series(0, {extra - 1}) g
            JOIN devices_person p ON p.id = {pmin} + ((g * 499) % {people})
            """
        )
        rest = devices - deployed - extra
        cursor.execute(
            f"""
            INSERT INTO devices_device (asset_tag, serial_number, manufacturer_id, device_model_id, status,
                business_unit_id, location, purchase_date, last_seen, os_version, version, created_at, updated_at)
            SELECT 'U' || lpad(g::text, 8, '0'), 'US' || lpad(g::text, 9, '0'), {maker.pk},
                   (ARRAY[{models[Category.LAPTOP]},{models[Category.LAPTOP]},{models[Category.DESKTOP]},
                          {models[Category.MONITOR]},{models[Category.SMARTPHONE]}]::bigint[])[1 + g % 5],
                   (ARRAY['in_stock','in_stock','in_stock','in_stock','in_stock','returned','awaiting_sanitisation',
                          'sanitised','disposed','lost_stolen'])[1 + g % 10],
                   ({units_array})[1 + g % {len(holders)}], 'Store', date '2016-04-01' + (g % 3000),
                   NULL, '', 1, now(), now()
            FROM generate_series(0, {rest - 1}) g
            """
        )
        cursor.execute(
            """
            INSERT INTO devices_deviceevent (device_id, kind, occurred_at, from_status, to_status, source, details)
            SELECT id, 'received', timestamptz '2020-01-01 09:00+00' + ((id % 2000) || ' days')::interval,
                   '', 'in_stock', 'bench', '{}'::jsonb FROM devices_device
            """
        )
        cursor.execute(
            """
            INSERT INTO devices_deviceevent (device_id, kind, occurred_at, from_status, to_status, source, details)
            SELECT id, 'deployed', timestamptz '2021-01-01 09:00+00' + ((id % 1500) || ' days')::interval,
                   'in_stock', 'deployed', 'bench', '{}'::jsonb FROM devices_device WHERE status = 'deployed'
            """
        )
        # Lost events spread over the last 12 months, so about a twelfth fall in October 2026.
        cursor.execute(
            """
            INSERT INTO devices_deviceevent (device_id, kind, occurred_at, from_status, to_status, source, details)
            SELECT id, 'lost', timestamptz '2025-11-01 09:00+00' + ((id % 365) || ' days')::interval,
                   'deployed', 'lost_stolen', 'bench', '{}'::jsonb FROM devices_device WHERE status = 'lost_stolen'
            """
        )
        cursor.execute("ANALYZE")
        cursor.execute("SELECT count(*) FROM devices_device")
        n_devices = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM devices_deviceevent")
        n_events = cursor.fetchone()[0]
    print(
        f"estate: {BusinessUnit.objects.count()} units, {people:,} people, {n_devices:,} devices, "
        f"{n_events:,} events in {time.perf_counter() - started:.1f}s"
    )


def bench_figures() -> None:
    """The figures for all units, the concurrent path (two connections in one
    snapshot, the default outside a transaction) and the sequential path interleaved
    run by run, so both meet the same load; then checked identical at full scale."""
    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from reports import selectors

    def run(concurrent: bool):
        settings.REPORTS_CONCURRENT_FIGURES = concurrent
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            figures = selectors.stewardship_figures(
                period_start=PERIOD_START, period_end=PERIOD_END
            )
        return time.perf_counter() - started, figures, len(queries)

    timings: dict[bool, list[float]] = {True: [], False: []}
    results, counts = {}, {}
    for _ in range(3):
        for concurrent in (True, False):
            elapsed, results[concurrent], counts[concurrent] = run(concurrent)
            timings[concurrent].append(elapsed)
    settings.REPORTS_CONCURRENT_FIGURES = True
    figures = results[True]
    root = next(f for f in figures.values() if f["unit"]["code"] == "MET")
    for concurrent, label in ((True, "two connections, one snapshot"), (False, "sequential")):
        runs = timings[concurrent]
        print(
            f"1. summary figures, all {len(figures)} units, {label} (refresh selector included, "
            f"{counts[concurrent]} queries on the caller's connection): best {min(runs):.3f}s, "
            f"runs {', '.join(f'{t:.3f}' for t in runs)} (target < 1 s)"
        )
    print(f"   identical figures on both paths: {results[True] == results[False]}")
    print(f"   MET headline: {root['headline']}")


def bench_one_unit() -> None:
    from accounts.models import BusinessUnit
    from devices.models import Device
    from reports import documents, selectors
    from reports.writers import csv as csv_writer
    from reports.writers import pdf as pdf_writer
    from reports.writers import xlsx as xlsx_writer

    unit = BusinessUnit.objects.get(code="D0C0U0")
    rows = (
        Device.objects.filter(business_unit__path__startswith=unit.path)
        .exclude(status="disposed")
        .count()
    )
    figures = selectors.stewardship_unit_figures(
        unit=unit, period_start=PERIOD_START, period_end=PERIOD_END, idle_days=90
    )
    trend = selectors.trend(current=figures["headline"], previous=None)
    document = documents.stewardship_document(
        unit=unit,
        figures=figures,
        trend_rows=trend,
        previous_label=None,
        period_label="October 2026",
        period_end=PERIOD_END,
        idle_days=90,
        generated_at=dt.datetime.now(dt.UTC),
    )
    for name, writer in (
        ("XLSX", xlsx_writer.write),
        ("CSV", csv_writer.write),
        ("PDF", pdf_writer.write),
    ):
        path = os.path.join(tempfile.gettempdir(), f"bench_reports_one.{name.lower()}")
        # Time without tracemalloc (it slows Python several-fold), then memory with it.
        rss_before = rss_mb()
        started = time.perf_counter()
        with open(path, "wb") as handle:
            writer(document, handle)
        took = time.perf_counter() - started
        rss_growth = rss_mb() - rss_before
        tracemalloc.start()
        with open(path, "wb") as handle:
            writer(document, handle)
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"2. one unit ({unit.code}, {rows:,} device rows) {name}: {took:.2f}s, "
            f"tracemalloc peak {traced_peak / 2**20:.1f} MB, RSS growth {rss_growth:.1f} MB, "
            f"file {os.path.getsize(path) / 2**20:.1f} MB"
            + (" (target < 10 s, < 50 MB)" if name == "XLSX" else "")
        )
        os.remove(path)


def _worker(media_root: str, out) -> None:
    setup(media_root)
    from reports import services

    started = time.perf_counter()
    outcome = services.stewardship_reports_generate_now(period_start=PERIOD_START, notify=False)
    out.put((os.getpid(), time.perf_counter() - started, peak_mb(), outcome))


def bench_all(workers: int) -> None:
    from django.db import connection
    from django.db.models import Sum

    from reports.models import ReportRun
    from reports.selectors import max_device_rows

    ReportRun.objects.filter(period_start=PERIOD_START).delete()
    connection.close()
    media_root = tempfile.mkdtemp(prefix="bench_reports_media_")
    os.makedirs(media_root, exist_ok=True)
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    started = time.perf_counter()
    procs = [ctx.Process(target=_worker, args=(media_root, out)) for _ in range(workers)]
    for proc in procs:
        proc.start()
    results = [out.get() for _ in procs]
    for proc in procs:
        proc.join()
    took = time.perf_counter() - started
    runs = ReportRun.objects.filter(period_start=PERIOD_START)
    rows = runs.aggregate(n=Sum("device_rows"))["n"]
    print(
        f"3. all units' files: {runs.filter(status='succeeded').count()} of {runs.count()} runs succeeded, "
        f"{rows:,} device rows written (REPORTS_MAX_DEVICE_ROWS {max_device_rows():,}), {took:.1f}s with {workers} "
        f"worker process(es) (target < 120 s)"
    )
    for pid, seconds, peak, outcome in results:
        print(
            f"   worker {pid}: {seconds:.1f}s, peak RSS {peak:.0f} MB (target < 500 MB), {outcome}"
        )
    for run in runs.filter(business_unit__code__in=["MET", "D0", "D0C0", "D0C0U0"]).select_related(
        "business_unit"
    ):
        print(
            f"   {run.business_unit.code}: {run.device_rows:,} rows in {run.duration_seconds:.1f}s"
        )


def compute_eligibility() -> None:
    """The business case's refresh policies and a real eligibility recomputation, so the
    report's refresh-due section reads a populated table, as it does in production."""
    from refresh import services as refresh_services
    from refresh.demo import LIFECYCLES, POLICY_FROM
    from refresh.models import RefreshPolicy

    if not RefreshPolicy.objects.exists():
        RefreshPolicy.objects.bulk_create(
            RefreshPolicy(
                category=category,
                effective_from=POLICY_FROM,
                lifecycle_months=months,
                repair_threshold=3,
                idle_days=90,
                os_end_of_support_forces_refresh=True,
            )
            for category, months in LIFECYCLES.items()
        )
    started = time.perf_counter()
    run = refresh_services.eligibility_recompute()
    print(
        f"eligibility computed for {run.device_count:,} devices in "
        f"{time.perf_counter() - started:.1f}s (so the refresh-due section is measured on real rows)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--skip-all", action="store_true", help="Skip measurement 3 (all units' files)."
    )
    args = parser.parse_args()
    setup()
    from django.conf import settings
    from django.core.management import call_command

    if not settings.IS_POSTGRES:
        sys.exit("Set DATABASE_URL to a PostgreSQL database of your own (bench_<name>).")
    call_command("migrate", verbosity=0)
    build_estate(args.devices)
    compute_eligibility()
    bench_figures()
    bench_one_unit()
    if not args.skip_all:
        bench_all(args.workers)
    print(f"load: {os.getloadavg()}, cpus: {os.cpu_count()}")


if __name__ == "__main__":
    main()
