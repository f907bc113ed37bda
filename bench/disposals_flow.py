"""Benchmark: the disposal flow set-based at scale, and the board's reads.

    createdb -h 127.0.0.1 -U postgres bench_disposals
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_disposals .venv/bin/python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_disposals .venv/bin/python bench/disposals_flow.py [--devices 200000] [--batch 10000]

Builds its own estate (bulk-created devices, ``--returned`` of them returned), then
times each bulk step on ``--batch`` devices at once (open cases, record sanitisation,
assess, accept routes, consign, dispatch, close) and the board's selectors
(counts, a queue's first 200 rows, the FY summary), each read the median of 5.
Targets: every bulk step on 10,000 devices under 10 s; every board read under 200 ms.
"""

import argparse
import datetime as dt
import io
import os
import resource
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# The bench certificate goes to a throw-away media folder, not the checkout's.
os.environ.setdefault("MEDIA_ROOT", tempfile.mkdtemp(prefix="bench_disposals_"))

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.files.base import ContentFile  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import BusinessUnit  # noqa: E402
from core.financial_year import current_financial_year  # noqa: E402
from devices.models import Category, Device, DeviceModel, Manufacturer  # noqa: E402
from disposals import selectors, services  # noqa: E402
from disposals.models import DisposalCase, Partner, Route  # noqa: E402

PREFIX = "BENCHDISP"


def timed(label, fn, results):
    start = time.perf_counter()
    value = fn()
    elapsed = time.perf_counter() - start
    results.append((label, elapsed))
    print(f"{label:<58} {elapsed * 1000:>10.0f} ms", flush=True)
    return value


def median_of(label, fn, results, runs=5):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    value = statistics.median(times)
    results.append((label, value))
    print(f"{label:<58} {value * 1000:>10.1f} ms (median of {runs})", flush=True)


def build_estate(n_devices: int, n_returned: int) -> None:
    maker, _ = Manufacturer.objects.get_or_create(name=f"{PREFIX} Maker")
    models = [
        DeviceModel.objects.get_or_create(
            manufacturer=maker,
            name=f"{PREFIX} {cat}",
            defaults={"category": cat, "unit_price": Decimal(price)},
        )[0]
        for cat, price in [
            (Category.LAPTOP, "1100"),
            (Category.DESKTOP, "700"),
            (Category.MONITOR, "180"),
            (Category.SMARTPHONE, "450"),
        ]
    ]
    root = BusinessUnit.objects.filter(code=f"{PREFIX}-ROOT").first()
    if root is None:
        from accounts.services import business_unit_save

        root = business_unit_save(unit=BusinessUnit(code=f"{PREFIX}-ROOT", name="Bench root"))
        for i in range(10):
            business_unit_save(unit=BusinessUnit(code=f"{PREFIX}-U{i}", name=f"U{i}", parent=root))
    units = list(BusinessUnit.objects.filter(code__startswith=f"{PREFIX}-U"))
    existing = Device.objects.filter(manufacturer=maker).count()
    today = timezone.localdate()
    batch = []
    for i in range(existing, n_devices):
        status = Device.Status.RETURNED if i < n_returned else Device.Status.IN_STOCK
        batch.append(
            Device(
                asset_tag=f"{PREFIX}{i:08d}",
                serial_number=f"{PREFIX}S{i:09d}",
                manufacturer=maker,
                device_model=models[i % 4],
                status=status,
                business_unit=units[i % len(units)],
                purchase_date=today - dt.timedelta(days=365 * 3 + i % 1500),
            )
        )
        if len(batch) == 10000:
            Device.objects.bulk_create(batch)
            batch = []
    if batch:
        Device.objects.bulk_create(batch)


def certificate_pdf() -> bytes:
    """A real one-page PDF: the upload is opened by a PDF parser before it is stored."""
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer)
    pdf.drawString(72, 770, "Certificate of destruction (bench)")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=200_000)
    parser.add_argument("--returned", type=int, default=30_000)
    parser.add_argument("--batch", type=int, default=10_000)
    args = parser.parse_args()
    print(f"database: {connection.vendor}; devices {args.devices:,}; batch {args.batch:,}")
    results = []
    timed(
        f"build estate ({args.devices:,} devices)",
        lambda: build_estate(args.devices, args.returned),
        results,
    )
    if connection.vendor == "postgresql":
        # What autovacuum would do after a bulk load: fresh statistics for the planner.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    actor, _ = get_user_model().objects.get_or_create(
        username=f"{PREFIX.lower()}.actor", defaults={"is_superuser": True}
    )
    ids = list(
        Device.objects.filter(
            asset_tag__startswith=PREFIX, status=Device.Status.RETURNED, disposal_case__isnull=True
        )
        .order_by("id")
        .values_list("id", flat=True)[: args.batch]
    )
    if len(ids) < args.batch:
        sys.exit("Not enough returned devices left: use a fresh database or a larger --returned.")
    n = len(ids)
    timed(
        f"open {n:,} cases",
        lambda: services.disposal_cases_open(device_ids=ids, actor=actor, source="bench"),
        results,
    )
    now = timezone.now()
    items = [
        services.SanitisationInput(
            device_id=d,
            method="crypto_erase",
            standard="NIST SP 800-88 Purge",
            tool="Blancco",
            operator="Op A",
            verifier="Ver B",
            performed_at=now - dt.timedelta(hours=1),
            result="fail" if d % 20 == 0 else "pass",
            certificate_ref=f"BL-{d}",
        )
        for d in ids
    ]
    timed(
        f"record {n:,} sanitisation results (5% fail)",
        lambda: services.sanitisation_records_record(items=items, actor=actor, source="bench"),
        results,
    )
    passed = list(
        DisposalCase.objects.filter(device_id__in=ids, status="sanitised").values_list(
            "pk", flat=True
        )
    )
    timed(
        f"assess {len(passed):,} (grade B)",
        lambda: services.assessments_record(case_ids=passed, grade="B", actor=actor),
        results,
    )
    timed(
        f"accept suggested route for {len(passed):,}",
        lambda: services.routes_decide(case_ids=passed, actor=actor),
        results,
    )
    route, count = max(
        (
            (
                r,
                DisposalCase.objects.filter(
                    device_id__in=ids, status="route_chosen", route=r
                ).count(),
            )
            for r in Route.values
        ),
        key=lambda x: x[1],
    )
    kind = {"resale": Partner.Kind.RESELLER, "reuse": Partner.Kind.DIGITAL_INCLUSION}.get(
        route, Partner.Kind.WEEE_RECYCLER
    )
    partner, _ = Partner.objects.get_or_create(
        name=f"{PREFIX} {kind}", defaults={"kind": kind, "licence_number": "EPR/X"}
    )
    consignment = services.consignment_create(route=route, partner=partner, actor=actor)
    case_ids = list(
        DisposalCase.objects.filter(
            device_id__in=ids, status="route_chosen", route=route
        ).values_list("pk", flat=True)
    )
    timed(
        f"add {len(case_ids):,} to a {route} consignment",
        lambda: services.consignment_add_cases(
            consignment=consignment, case_ids=case_ids, actor=actor
        ),
        results,
    )
    timed(
        "dispatch it",
        lambda: services.consignment_dispatch(
            consignment=consignment,
            dispatch_date=timezone.localdate(),
            collected_by="Van",
            transfer_note_ref="WTN",
            actor=actor,
        ),
        results,
    )
    services.consignment_certificate_upload(
        consignment=consignment, upload=ContentFile(certificate_pdf(), name="c.pdf"), actor=actor
    )
    timed(
        f"close it ({len(case_ids):,} devices disposed)",
        lambda: services.consignment_close(
            consignment=consignment,
            actor=actor,
            proceeds=Decimal("1000.00") if route == "resale" else None,
        ),
        results,
    )

    manager = actor
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    for queue in ["returned", "awaiting_sanitisation", "value_assessed", "disposed"]:
        median_of(
            f"board_rows(queue={queue})",
            lambda q=queue: selectors.board_rows(user=manager, queue=q),
            results,
        )
    median_of("board_counts (all queues)", lambda: selectors.board_counts(user=manager), results)
    median_of(
        "disposal_summary (current FY)",
        lambda: selectors.disposal_summary(
            user=manager, fy=current_financial_year(), commercial=True
        ),
        results,
    )
    some = (
        DisposalCase.objects.filter(status="disposed").values_list("device_id", flat=True).first()
    )
    median_of(
        "custody_chain (one device)",
        lambda: selectors.custody_chain(user=manager, device_id=some),
        results,
    )
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    print(f"load: {os.getloadavg()}")


if __name__ == "__main__":
    main()
