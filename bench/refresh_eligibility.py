"""Refresh at 1,000,000 devices on PostgreSQL: eligibility recomputation, the
forecast and scenario comparisons, each service timed beside the single
hand-written SQL statement that does the same work, in the same run.

    createdb -h 127.0.0.1 -U postgres bench_refresh
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_refresh .venv/bin/python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_refresh .venv/bin/python bench/refresh_eligibility.py

The data is generated in the database with generate_series (1,000,000 devices
over 200 units, 50,000 people, 300,000 repair events) unless it is already
there. Targets: eligibility and forecast within 1.5x of the hand-written
statement; a scenario comparison under 5 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from core.financial_year import FinancialYear, financial_year  # noqa: E402
from devices.models import (  # noqa: E402
    BusinessUnit,
    Category,
    Device,
    DeviceModel,
    Manufacturer,
    RoleProfile,
)
from refresh import selectors, services  # noqa: E402
from refresh.models import RefreshPolicy, Scenario  # noqa: E402

TODAY = dt.date(2025, 6, 15)
UNITS = 200
LIFECYCLES = {"laptop": 48, "desktop": 60, "monitor": 84, "smartphone": 36, "tablet": 48}


def log(msg: str) -> None:
    print(msg, flush=True)


def generate(devices: int, people: int, repairs: int) -> None:
    """Estate made in the database; reference data through the ORM."""
    if Device.objects.count() >= devices:
        log(f"estate already present ({Device.objects.count():,} devices)")
        return
    assert not Device.objects.exists(), "bench database has a partial estate: drop it"
    t = time.monotonic()
    root = services_unit("BENCH", None)
    units = [services_unit(f"BU{i:04d}", root) for i in range(UNITS)]
    maker = Manufacturer.objects.create(name="BenchMaker")
    models = []
    for category in Category.values:
        for n in range(4):
            models.append(
                DeviceModel.objects.create(
                    manufacturer=maker,
                    name=f"{category}-{n}",
                    category=category,
                    unit_price=Decimal(300 + 150 * n),
                    # one model in four is past end of support
                    end_of_support=dt.date(2024, 1, 1) if n == 0 else dt.date(2032, 1, 1),
                )
            )
    role = RoleProfile.objects.create(code="bench", name="Bench role")
    unit_ids = [u.pk for u in units]
    model_ids = [m.pk for m in models]
    windows = [m.pk for m in models if m.category in ("laptop", "desktop")]
    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO devices_person (staff_number, business_unit_id, role_profile_id,
                at_needs, at_note, start_date, leaver_date)
            SELECT 'P' || i, (%s::int[])[(1 + i %% %s)::int], %s, i %% 50 = 0, '', date '2015-01-01', NULL
            FROM generate_series(1::bigint, %s) AS i
            """,
            [unit_ids, len(unit_ids), role.pk, people],
        )
        cur.execute("SELECT min(id) FROM devices_person")
        first_person = cur.fetchone()[0]
        # The database's rules hold here too: a deployed device has a holder, a holder
        # only while in use, and a disposed device without a case is historical.
        cur.execute(
            """
            INSERT INTO devices_device (asset_tag, serial_number, manufacturer_id, device_model_id,
                status, business_unit_id, assigned_to_id, location, purchase_date, warranty_expires,
                purchase_cost, last_seen, os_version, version, created_at, updated_at, historical)
            SELECT NULL, 'S' || i, %s, m.id,
                CASE WHEN i %% 20 < 13 THEN 'deployed' WHEN i %% 20 < 17 THEN 'in_stock'
                     WHEN i %% 20 = 17 THEN 'in_repair' WHEN i %% 20 = 18 THEN 'disposed'
                     ELSE 'returned' END,
                (%s::int[])[(1 + (i / 7) %% %s)::int],
                CASE WHEN i %% 20 < 13 OR i %% 20 = 17 THEN %s + i %% %s END, '',
                date '2015-01-01' + ((i * 7919) %% 4000)::int,
                date '2018-01-01' + ((i * 7919) %% 4000)::int,
                NULL,
                CASE WHEN i %% 20 < 13 THEN now() - make_interval(days => ((i * 31) %% 200)::int) END,
                CASE WHEN m.id = ANY(%s::int[]) THEN
                    CASE WHEN i %% 3 = 0 THEN 'Windows 10 22H2' ELSE 'Windows 11 23H2' END
                    ELSE '' END,
                1, now(), now(), i %% 20 = 18
            FROM generate_series(1::bigint, %s) AS i
            JOIN devices_devicemodel m ON m.id = (%s::int[])[(1 + i %% %s)::int]
            """,
            [
                maker.pk,
                unit_ids,
                len(unit_ids),
                first_person,
                people,
                windows,
                devices,
                model_ids,
                len(model_ids),
            ],
        )
        cur.execute("SELECT min(id) FROM devices_device")
        first = cur.fetchone()[0]
        cur.execute(
            """
            INSERT INTO devices_deviceevent (device_id, kind, occurred_at, recorded_by_id,
                from_status, to_status, source, details)
            SELECT %s + (j * 104729) %% %s, 'repaired',
                   now() - make_interval(days => ((j * 13) %% 3000)::int), NULL, '', '', 'bench', '{}'
            FROM generate_series(1::bigint, %s) AS j
            """,
            [first, devices, repairs],
        )
        cur.execute("ANALYZE")
    log(
        f"generated {devices:,} devices, {people:,} people, {repairs:,} repairs in {time.monotonic() - t:.0f} s"
    )


def services_unit(code, parent):
    from accounts.services import business_unit_save

    return business_unit_save(unit=BusinessUnit(code=code, name=code, parent=parent))


def reference_data() -> None:
    if RefreshPolicy.objects.exists():
        return
    for category, months in LIFECYCLES.items():
        services.refresh_policy_create(
            category=category, effective_from=dt.date(2020, 1, 1), lifecycle_months=months
        )
    services.os_end_of_support_save(os_prefix="Windows 10", end_of_support=dt.date(2025, 10, 14))
    for category, price in (
        ("laptop", "950"),
        ("desktop", "780"),
        ("monitor", "165"),
        ("smartphone", "520"),
    ):
        services.bau_rate_save(
            category=category,
            new_starters_per_year=2000,
            breakage_rate_pct=Decimal("3"),
            growth_pct=Decimal("1"),
            planning_unit_price=Decimal(price),
        )


# --- The hand-written statements --------------------------------------------------

HAND_ELIGIBILITY = """
INSERT INTO refresh_deviceeligibility (device_id, business_unit_id, category, policy_id,
    purchase_date, due_date, is_due, reason_age, reason_repairs, reason_os_end_of_support,
    reason_model_end_of_support, reason_out_of_warranty, reclaim, repair_count, priority,
    computed_at, forced, in_use, due_financial_year)
SELECT x.id, x.business_unit_id, x.category, x.policy_id, x.purchase_date, x.due,
    NOT x.idle AND (x.due <= %(today)s OR x.repairs >= 3 OR x.model_eos OR x.os_eos),
    x.due <= %(today)s, x.repairs >= 3, x.os_eos, x.model_eos, x.oow, x.idle, x.repairs,
    CASE WHEN x.idle THEN 0 ELSE (%(today)s - x.purchase_date) * 12 / 365 + 12 * x.repairs
        + CASE WHEN x.os_eos OR x.model_eos THEN 24 ELSE 0 END
        + CASE WHEN x.oow THEN 6 ELSE 0 END END,
    now(),
    NOT x.idle AND (x.repairs >= 3 OR x.model_eos OR x.os_eos),
    x.status IN ('deployed', 'in_repair'),
    extract(year FROM x.due - interval '3 months')::int
FROM (
    SELECT d.id, d.business_unit_id, dm.category, p.id AS policy_id, d.purchase_date, d.status,
        (d.purchase_date + make_interval(months => p.lifecycle_months))::date AS due,
        COALESCE(r.n, 0) AS repairs,
        COALESCE(d.warranty_expires < %(today)s, false) AS oow,
        COALESCE(dm.end_of_support <= %(today)s, false) AS model_eos,
        (d.os_version LIKE 'Windows 10%%' AND date '2025-10-14' <= %(today)s) AS os_eos,
        (d.status = 'deployed' AND COALESCE(d.last_seen < now() - interval '90 days', false)) AS idle
    FROM devices_device d
    JOIN devices_devicemodel dm ON dm.id = d.device_model_id
    JOIN refresh_refreshpolicy p ON p.category = dm.category
    LEFT JOIN (SELECT device_id, count(*) AS n FROM devices_deviceevent
               WHERE kind = 'repaired' GROUP BY device_id) r ON r.device_id = d.id
    WHERE d.status IN ('deployed', 'in_repair', 'in_stock')
) x
ON CONFLICT (device_id) DO UPDATE SET business_unit_id = excluded.business_unit_id,
    category = excluded.category, policy_id = excluded.policy_id,
    purchase_date = excluded.purchase_date, due_date = excluded.due_date,
    is_due = excluded.is_due, reason_age = excluded.reason_age,
    reason_repairs = excluded.reason_repairs,
    reason_os_end_of_support = excluded.reason_os_end_of_support,
    reason_model_end_of_support = excluded.reason_model_end_of_support,
    reason_out_of_warranty = excluded.reason_out_of_warranty, reclaim = excluded.reclaim,
    repair_count = excluded.repair_count, priority = excluded.priority,
    computed_at = excluded.computed_at, forced = excluded.forced, in_use = excluded.in_use,
    due_financial_year = excluded.due_financial_year
WHERE (refresh_deviceeligibility.business_unit_id, refresh_deviceeligibility.category,
       refresh_deviceeligibility.policy_id, refresh_deviceeligibility.purchase_date,
       refresh_deviceeligibility.due_date, refresh_deviceeligibility.is_due,
       refresh_deviceeligibility.reason_age, refresh_deviceeligibility.reason_repairs,
       refresh_deviceeligibility.reason_os_end_of_support,
       refresh_deviceeligibility.reason_model_end_of_support,
       refresh_deviceeligibility.reason_out_of_warranty, refresh_deviceeligibility.reclaim,
       refresh_deviceeligibility.repair_count, refresh_deviceeligibility.priority,
       refresh_deviceeligibility.forced, refresh_deviceeligibility.in_use,
       refresh_deviceeligibility.due_financial_year)
  IS DISTINCT FROM
      (excluded.business_unit_id, excluded.category, excluded.policy_id, excluded.purchase_date,
       excluded.due_date, excluded.is_due, excluded.reason_age, excluded.reason_repairs,
       excluded.reason_os_end_of_support, excluded.reason_model_end_of_support,
       excluded.reason_out_of_warranty, excluded.reclaim, excluded.repair_count,
       excluded.priority, excluded.forced, excluded.in_use, excluded.due_financial_year)
"""

HAND_FORECAST = """
SELECT business_unit_id, category,
    CASE WHEN reclaim OR due_financial_year IS NULL THEN -1
         WHEN forced THEN %(current)s
         ELSE greatest(%(current)s, due_financial_year) END AS fy,
    in_use, count(*)
FROM refresh_deviceeligibility
GROUP BY 1, 2, 3, 4
"""


def timed(fn, runs: int, before=None) -> list[float]:
    out = []
    for _ in range(runs):
        if before:
            before()
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def vacuum() -> None:
    # Each full upsert leaves a million dead rows; vacuum between runs (untimed) so
    # every run, service or hand-written, starts from the same table state.
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE refresh_deviceeligibility")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    assert connection.vendor == "postgresql", "run against PostgreSQL (DATABASE_URL)"
    generate(args.devices, people=50_000, repairs=300_000)
    reference_data()
    # Freeze "today" so the run is reproducible: the service is called with it.
    from unittest import mock

    from django.utils import timezone

    results = []
    day = {"n": 0}

    def next_day() -> dt.date:
        # Each timed run is "the next night": a day's worth of rows change (priority
        # grows with age, devices fall due), as in the nightly recomputation.
        day["n"] += 1
        return TODAY + dt.timedelta(days=day["n"])

    def hand_eligibility(today=None):
        with connection.cursor() as cur:
            cur.execute(HAND_ELIGIBILITY, {"today": today or next_day()})
            return cur.rowcount

    def service_eligibility(today=None):
        services.eligibility_recompute(today=today or next_day())

    def truncate():
        with connection.cursor() as cur:
            cur.execute("TRUNCATE refresh_deviceeligibility")

    # Full rewrite (first fill, or a policy change that alters every row): one run each.
    full_ref = timed(lambda: hand_eligibility(TODAY), 1, before=truncate)[0]
    full_svc = timed(lambda: service_eligibility(TODAY), 1, before=truncate)[0]
    results.append(("eligibility, full rewrite into an empty table", full_svc, full_ref))
    vacuum()
    # Nightly: interleaved so drift in the shared machine's load hits both alike.
    svc, ref = [], []
    for _ in range(args.runs):
        ref += timed(hand_eligibility, 1, before=vacuum)
        svc += timed(service_eligibility, 1, before=vacuum)
    results.append(
        ("eligibility, nightly (one day later)", statistics.median(svc), statistics.median(ref))
    )
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM refresh_deviceeligibility"
            " WHERE computed_at = (SELECT max(computed_at) FROM refresh_deviceeligibility)"
        )
        log(f"rows changed by the last nightly run: {cur.fetchone()[0]:,}")
    # Back to the reference day for the forecast and scenarios, and a check that
    # the two statements agree: after the service, the hand-written one changes nothing.
    service_eligibility(TODAY)
    log(
        f"rows the hand-written statement changed after the service, same day: {hand_eligibility(TODAY)}"
    )

    current = financial_year(TODAY)
    years = [FinancialYear(current.start_year + i) for i in range(5)]

    def hand_forecast():
        with connection.cursor() as cur:
            cur.execute(HAND_FORECAST, {"current": current.start_year})
            cur.fetchall()

    with mock.patch.object(timezone, "localdate", return_value=TODAY):

        def service_forecast():
            selectors.forecast_totals(financial_years=years)

        service_forecast()
        svc, ref = [], []
        for _ in range(args.runs):
            ref += timed(hand_forecast, 1)
            svc += timed(service_forecast, 1)
        results.append(("forecast_totals, 5 years", statistics.median(svc), statistics.median(ref)))

        user = _bench_user()
        scenarios = [
            services.scenario_save(
                name=f"bench {name}",
                overrides=overrides,
                actor=user,
                scenario=Scenario.objects.filter(name=f"bench {name}").first(),
            )
            for name, overrides in [
                ("stretch laptops", {"lifecycle_months": {"laptop": 60}}),
                ("defer monitors", {"defer_years": {"monitor": 1}}),
                (
                    "everything",
                    {
                        "lifecycle_months": {"laptop": 60, "desktop": 72},
                        "defer_years": {"monitor": 1},
                        "volume_caps": {"2025/26": {"laptop": 20000}},
                        "unit_prices": {"laptop": "850"},
                        "bau": {"smartphone": {"breakage_rate_pct": "8"}},
                    },
                ),
            ]
        ]
        scenario_times = {}
        for scenario in scenarios:
            scenario_times[scenario.name] = statistics.median(
                timed(
                    lambda s=scenario: selectors.scenario_compare(
                        scenario=s, financial_years=years
                    ),
                    args.runs,
                )
            )

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    log("")
    log(f"| step ({args.devices:,} devices) | service s | hand-written SQL s | ratio | target |")
    log("|---|---:|---:|---:|---|")
    for name, s, r in results:
        log(f"| {name} | {s:.2f} | {r:.2f} | {s / r:.2f} | ≤ 1.5 |")
    for name, s in scenario_times.items():
        log(f"| scenario comparison: {name.removeprefix('bench ')} | {s:.2f} | | | < 5 s |")
    log(f"\nmedian of {args.runs} runs each; peak RSS {rss:.0f} MB; load {os.getloadavg()}")


def _bench_user():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get_or_create(username="bench-refresh")[0]


if __name__ == "__main__":
    main()
