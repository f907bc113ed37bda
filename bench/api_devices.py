"""REST API benchmark at 1,000,000 devices (PostgreSQL).

    createdb -h 127.0.0.1 -U postgres bench_apieng
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_apieng .venv/bin/python bench/api_devices.py

Builds its own estate with INSERT ... SELECT generate_series (no seed_demo),
then measures in-process through DRF (APIRequestFactory + force_authenticate,
the full view stack: permissions, scope, filters, cursor pagination, serializer,
rendering):

* GET /api/v1/devices/ page of 100: median of page 1 and of page 9,000 (cursor
  for id > 900,000); targets < 25 ms median, page 9,000 within 1.2x page 1;
* every filter the API offers: its median time and the EXPLAIN plan lines;
* POST /api/v1/devices/bulk/ with 5,000 devices (half new, half changed); target < 2 s.

Options: --devices N (default 1,000,000), --runs N (default 50), --keep-candidate-indexes
(leave the two composite indexes the script tries, for comparison, in place).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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
from rest_framework.pagination import Cursor  # noqa: E402
from rest_framework.test import APIRequestFactory, force_authenticate  # noqa: E402

from accounts.roles import Role  # noqa: E402
from api.pagination import IdCursorPagination  # noqa: E402
from devices import selectors  # noqa: E402
from devices.api.filters import DeviceFilter  # noqa: E402
from devices.api.views import DeviceViewSet  # noqa: E402

UNITS_PER_LEVEL = (4, 8, 10)  # directorates x commands x units = 320 units + 36 parents
PEOPLE = 60_000
MODELS = [  # (manufacturer, model, category)
    ("Dell", "Latitude 5440", "laptop"),
    ("Dell", "Latitude 7450", "laptop"),
    ("HP", "EliteBook 840 G10", "laptop"),
    ("Lenovo", "ThinkPad T14", "laptop"),
    ("Dell", "OptiPlex 7010", "desktop"),
    ("HP", "Elite Mini 800", "desktop"),
    ("Dell", "P2423", "monitor"),
    ("Samsung", "Galaxy A55", "smartphone"),
    ("Apple", "iPhone 15", "smartphone"),
    ("Apple", "iPad 10", "tablet"),
]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def build_estate(n_devices: int) -> None:
    """Units, people, models and n_devices devices, set-based. Skipped if present."""
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM devices_device")
        have = cur.fetchone()[0]
    if have >= n_devices:
        print(f"estate present: {have:,} devices")
        return
    if have:
        sys.exit("bench DB holds a partial estate; drop and recreate it")
    started = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO devices_roleprofile (code, name) VALUES ('response', 'Response officer')"
        )
        cur.execute(
            "INSERT INTO devices_entitlement (role_profile_id, category, quantity) "
            "SELECT id, c, 1 FROM devices_roleprofile, "
            "unnest(ARRAY['laptop','smartphone','desktop','monitor','tablet']) c"
        )
        # Business-unit tree with materialised paths.
        d, c, u = UNITS_PER_LEVEL
        cur.execute(
            "INSERT INTO accounts_businessunit (code, name, level, path, cost_centre, "
            "stewardship_email, active) SELECT 'D' || i, 'Directorate ' || i, 'directorate', "
            "'D' || i || '/', '', '', true FROM generate_series(1, %s) i",
            [d],
        )
        cur.execute(
            "INSERT INTO accounts_businessunit (code, name, level, path, parent_id, cost_centre, "
            "stewardship_email, active) SELECT p.code || 'C' || j, 'Command ' || j, 'command', "
            "p.path || p.code || 'C' || j || '/', p.id, '', '', true "
            "FROM accounts_businessunit p, generate_series(1, %s) j WHERE p.level = 'directorate'",
            [c],
        )
        cur.execute(
            "INSERT INTO accounts_businessunit (code, name, level, path, parent_id, cost_centre, "
            "stewardship_email, active) SELECT p.code || 'U' || k, 'Unit ' || k, 'unit', "
            "p.path || p.code || 'U' || k || '/', p.id, '', '', true "
            "FROM accounts_businessunit p, generate_series(1, %s) k WHERE p.level = 'command'",
            [u],
        )
        cur.execute(
            "CREATE TEMP TABLE leaf AS SELECT row_number() OVER (ORDER BY id) - 1 AS n, id "
            "FROM accounts_businessunit WHERE level = 'unit'"
        )
        cur.execute("SELECT count(*) FROM leaf")
        leaves = cur.fetchone()[0]
        cur.execute(
            "INSERT INTO devices_person (staff_number, business_unit_id, role_profile_id, "
            "at_needs, at_note, start_date) SELECT 'P' || lpad(i::text, 7, '0'), leaf.id, "
            "(SELECT id FROM devices_roleprofile), i %% 50 = 0, '', DATE '2015-01-05' "
            "FROM generate_series(0, %s - 1) i JOIN leaf ON leaf.n = i %% %s",
            [PEOPLE, leaves],
        )
        for maker in sorted({m for m, _, _ in MODELS}):
            cur.execute("INSERT INTO devices_manufacturer (name) VALUES (%s)", [maker])
        for maker, name, category in MODELS:
            cur.execute(
                "INSERT INTO devices_devicemodel (manufacturer_id, name, category, unit_price) "
                "SELECT id, %s, %s, 899.00 FROM devices_manufacturer WHERE name = %s",
                [name, category, maker],
            )
        cur.execute(
            "CREATE TEMP TABLE mdl AS SELECT row_number() OVER (ORDER BY id) - 1 AS n, id, "
            "manufacturer_id FROM devices_devicemodel"
        )
        cur.execute(
            "CREATE TEMP TABLE ppl AS SELECT row_number() OVER (ORDER BY id) - 1 AS n, "
            "id FROM devices_person"
        )
        # Devices: status mix ~ a real estate (most deployed), each deployed or in
        # repair one held by a person; the rest unassigned (the CHECK constraint).
        cur.execute(
            """
            INSERT INTO devices_device (asset_tag, serial_number, manufacturer_id,
                device_model_id, status, business_unit_id, assigned_to_id, location,
                purchase_date, warranty_expires, purchase_cost, last_seen, os_version,
                version, created_at, updated_at)
            SELECT 'MPS' || lpad(i::text, 8, '0'),
                   'SN' || lpad(i::text, 10, '0'),
                   mdl.manufacturer_id, mdl.id, st.status, leaf.id,
                   CASE WHEN st.status IN ('deployed', 'in_repair') THEN ppl.id END,
                   '', DATE '2016-04-01' + (i %% 3300), DATE '2019-04-01' + (i %% 3300),
                   899.00, TIMESTAMPTZ '2025-01-01' + (i %% 300000) * INTERVAL '1 minute',
                   'Windows 11', 1, now(), now()
            FROM generate_series(0, %s - 1) i
            JOIN mdl ON mdl.n = i %% 10
            JOIN leaf ON leaf.n = (i / 7) %% %s
            JOIN ppl ON ppl.n = i %% %s
            CROSS JOIN LATERAL (SELECT CASE
                WHEN i %% 100 < 70 THEN 'deployed'
                WHEN i %% 100 < 85 THEN 'in_stock'
                WHEN i %% 100 < 90 THEN 'in_repair'
                WHEN i %% 100 < 95 THEN 'returned'
                WHEN i %% 100 < 98 THEN 'awaiting_sanitisation'
                ELSE 'lost_stolen' END AS status) st
            """,
            [n_devices, leaves, PEOPLE],
        )
        cur.execute("ANALYZE")
    print(f"built estate: {n_devices:,} devices in {time.perf_counter() - started:.1f} s")


def user(role: Role, username: str, units=()):
    from django.contrib.auth import get_user_model

    from tests.factories import UserFactory

    existing = get_user_model().objects.filter(username=username).first()
    return existing or UserFactory(username=username, role=role, units=units)


def fresh(u):
    # Drop the per-request role/scope caches, as a new request would.
    for attr in ("_cached_roles", "_cached_unit_scope"):
        u.__dict__.pop(attr, None)
    return u


factory = APIRequestFactory()
list_view = DeviceViewSet.as_view({"get": "list"})
bulk_view = DeviceViewSet.as_view({"post": "bulk"})


def get_page(u, query: str):
    request = factory.get(f"/api/v1/devices/{query}")
    force_authenticate(request, user=fresh(u))
    response = list_view(request)
    response.render()
    assert response.status_code == 200, response.content[:300]
    return response


def timed(u, query: str, runs: int) -> tuple[float, float, int, float]:
    """Median and p95 wall time, rows, and median CPU time of this process.

    The machine's 2 cores are shared with other work: wall time includes waiting for
    a core; the process CPU time (time.process_time) is the in-process work
    itself, less the database server's share.
    """
    get_page(u, query)  # warm
    samples, cpu = [], []
    rows = 0
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        response = get_page(u, query)
        cpu.append(time.process_time() - c)
        samples.append(time.perf_counter() - t)
        rows = len(json.loads(response.content)["results"])
    samples.sort()
    return (
        statistics.median(samples),
        samples[int(len(samples) * 0.95) - 1],
        rows,
        statistics.median(cpu),
    )


def cursor_after(position: int) -> str:
    pagination = IdCursorPagination()
    pagination.base_url = "http://testserver/api/v1/devices/"
    url = pagination.encode_cursor(Cursor(offset=0, reverse=False, position=str(position)))
    return "?" + url.split("?", 1)[1]


def explain(u, query: dict) -> list[str]:
    queryset = DeviceFilter(query, queryset=selectors.device_list(user=fresh(u))).qs
    plan = queryset.order_by("id")[:101].explain()
    return plan.splitlines()


def bench_pages(u, runs: int, first_id: int) -> dict:
    page1 = timed(u, "", runs)
    deep_query = cursor_after(first_id + 900_000 - 1)
    page9000 = timed(u, deep_query, runs)
    first_row = json.loads(get_page(u, deep_query).content)["results"][0]["id"]
    print(
        f"page 1:     median {ms(page1[0])} (CPU {ms(page1[3])}), p95 {ms(page1[1])}, "
        f"{page1[2]} rows"
    )
    print(
        f"page 9,000: median {ms(page9000[0])} (CPU {ms(page9000[3])}), p95 {ms(page9000[1])}, "
        f"{page9000[2]} rows, first id {first_row:,} (= row {first_row - first_id + 1:,})"
    )
    with connection.cursor() as cur:
        for label, position in (("page 1", None), ("page 9,000", first_id + 900_000 - 1)):
            where = "" if position is None else f"WHERE id > {int(position)}"
            cur.execute(
                "EXPLAIN (ANALYZE, COSTS OFF) SELECT * FROM devices_device "
                f"{where} ORDER BY id LIMIT 101"
            )
            plan = [row[0] for row in cur.fetchall()]
            print(f"  {label} SQL: {plan[1].strip()}; {plan[-1].strip()}")
    print(
        f"ratio page 9,000 / page 1: {page9000[0] / page1[0]:.2f} wall, "
        f"{page9000[3] / page1[3]:.2f} CPU"
    )
    return {"page1": page1, "page9000": page9000}


FILTERS = [
    ("business_unit (a command and its units)", {"business_unit": "D2C3"}),
    ("business_unit (one unit)", {"business_unit": "D2C3U4"}),
    ("category=smartphone", {"category": "smartphone"}),
    ("category=tablet", {"category": "tablet"}),
    ("status=lost_stolen", {"status": "lost_stolen"}),
    ("model=<id>", {"model": None}),
    ("assigned_to=<staff>", {"assigned_to": "P0012345"}),
    (
        "purchase_date range (one month)",
        {"purchase_date_after": "2020-01-01", "purchase_date_before": "2020-01-31"},
    ),
    (
        "last_seen range (one day)",
        {"last_seen_after": "2025-03-01T00:00:00Z", "last_seen_before": "2025-03-02T00:00:00Z"},
    ),
    ("q serial prefix", {"q": "SN000012345"}),
    ("q exact serial", {"q": "SN0000123456"}),
    ("q asset-tag prefix", {"q": "MPS0012345"}),
    ("status + business_unit", {"status": "in_repair", "business_unit": "D1"}),
]


CANDIDATE_INDEXES = [
    "CREATE INDEX IF NOT EXISTS bench_device_unit_id ON devices_device (business_unit_id, id)",
    "CREATE INDEX IF NOT EXISTS bench_device_model_id ON devices_device (device_model_id, id)",
]
CANDIDATE_FILTERS = {
    "business_unit (a command and its units)",
    "business_unit (one unit)",
    "model=<id>",
    "category=tablet",
}


def bench_filters(u, runs: int, only=None) -> list[tuple[str, float, list[str]]]:
    from devices.models import DeviceModel

    model_id = DeviceModel.objects.get(name="Galaxy A55").pk
    out = []
    for label, query in FILTERS:
        if only is not None and label not in only:
            continue
        query = {k: (model_id if v is None else v) for k, v in query.items()}
        qs = "?" + "&".join(f"{k}={v}" for k, v in query.items())
        median, _p95, rows, cpu = timed(u, qs, runs)
        plan = explain(u, {k: str(v) for k, v in query.items()})
        out.append((label, median, rows, plan))
        print(f"\n{label}: {qs}  median {ms(median)} (CPU {ms(cpu)})  ({rows} rows)")
        for line in plan:
            print("    " + line)
    return out


def bench_bulk(u, run_no: int) -> tuple[float, dict]:
    """5,000 items: 2,500 new devices and 2,500 existing ones with a changed location.

    Serials, tags and locations carry a nonce, so a re-run of the script on the
    same database still creates and changes devices rather than finding them unchanged.
    """
    from devices.models import Device

    nonce = f"{int(time.time()) % 10**6:06d}{run_no}"
    existing = list(
        Device.objects.filter(status="in_stock")
        .order_by("id")
        .values_list(
            "serial_number",
            "manufacturer__name",
            "device_model__name",
            "device_model__category",
            "business_unit__code",
        )[run_no * 2500 : (run_no + 1) * 2500]
    )
    items = [
        {
            "serial_number": f"BULK{nonce}-{i:06d}",
            "manufacturer": "Dell",
            "model": "Latitude 5440",
            "category": "laptop",
            "business_unit": "D1C1U1",
            "asset_tag": f"BLK{nonce}-{i:06d}",
            "purchase_date": "2025-04-01",
            "purchase_cost": "1,049.00",
            "os_version": "Windows 11",
        }
        for i in range(2500)
    ] + [
        {
            "serial_number": s,
            "manufacturer": m,
            "model": mo,
            "category": c,
            "business_unit": b,
            "location": f"Bulk run {nonce}",
        }
        for s, m, mo, c, b in existing
    ]
    body = json.dumps(items)
    request = factory.post("/api/v1/devices/bulk/", body, content_type="application/json")
    force_authenticate(request, user=fresh(u))
    t = time.perf_counter()
    response = bulk_view(request)
    response.render()
    elapsed = time.perf_counter() - t
    assert response.status_code == 200, response.content[:500]
    counts = json.loads(response.content)["counts"]
    return elapsed, counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--keep-candidate-indexes", action="store_true")
    parser.add_argument("--pages-only", action="store_true", help="Skip filters and bulk.")
    args = parser.parse_args()
    if not settings.IS_POSTGRES:
        sys.exit("Set DATABASE_URL to a PostgreSQL bench database.")
    settings.DEBUG = False
    call_command("migrate", verbosity=0)
    build_estate(args.devices)
    # The bench measures the API, not the rate limit.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"token": None}}
    from rest_framework.settings import api_settings

    api_settings.reload()
    from accounts.models import BusinessUnit
    from devices.models import Device

    integration = user(Role.INTEGRATION, "bench-integration")
    viewer = user(Role.UNIT_VIEWER, "bench-viewer", units=[BusinessUnit.objects.get(code="D2")])
    first_id = Device.objects.order_by("id").values_list("id", flat=True).first()
    print(
        f"PostgreSQL {connection.pg_version}, {Device.objects.count():,} devices, "
        f"load {os.getloadavg()}"
    )

    print("\n== GET /api/v1/devices/ (integration, whole estate) ==")
    bench_pages(integration, args.runs, first_id)
    print("\n== GET /api/v1/devices/ (unit viewer scoped to one directorate, 1/4 of the estate) ==")
    scoped = timed(viewer, "", args.runs)
    print(f"page 1: median {ms(scoped[0])} (CPU {ms(scoped[3])})")
    deep = cursor_after(first_id + 900_000 - 1)
    scoped = timed(viewer, deep, args.runs)
    print(f"deep page (id > 900,000): median {ms(scoped[0])} (CPU {ms(scoped[3])})")

    if args.pages_only:
        return
    print("\n== filters (integration), median of", max(5, args.runs // 5), "==")
    bench_filters(integration, max(5, args.runs // 5))

    print("\n== with candidate indexes (business_unit_id, id) and (device_model_id, id) ==")
    with connection.cursor() as cur:
        t = time.perf_counter()
        for sql in CANDIDATE_INDEXES:
            cur.execute(sql)
        cur.execute("ANALYZE devices_device")
        print(f"created in {time.perf_counter() - t:.1f} s: " + "; ".join(CANDIDATE_INDEXES))
    bench_filters(integration, max(5, args.runs // 5), only=CANDIDATE_FILTERS)
    if not args.keep_candidate_indexes:
        with connection.cursor() as cur:
            for name in ("bench_device_unit_id", "bench_device_model_id"):
                cur.execute(f"DROP INDEX {name}")

    print("\n== POST /api/v1/devices/bulk/ with 5,000 devices (2,500 new, 2,500 changed) ==")
    for run_no in range(3):
        elapsed, counts = bench_bulk(integration, run_no)
        print(f"run {run_no + 1}: {elapsed:.2f} s  {counts}")
    scoped = user(Role.INTEGRATION, "bench-scoped", units=[BusinessUnit.objects.get(code="D1")])
    elapsed, counts = bench_bulk(scoped, 3)
    print(f"scoped caller (D1; API scope check on): {elapsed:.2f} s  {counts}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS {peak:.0f} MB; load {os.getloadavg()}")


if __name__ == "__main__":
    main()
