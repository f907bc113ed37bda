"""The failure-rate snapshot: repairs per age band, computed set-based on a schedule."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db import connection, transaction
from django.utils import timezone

from refresh.models import FailureRateSnapshot
from refresh.selectors.failures import failure_rates_snapshot

# Arbitrary constant naming the snapshot refresh's advisory lock.
FAILURE_RATES_LOCK_KEY = 4_000_002
BANDS = range(7)  # whole years of age, 6 standing for six and over


def failure_counts_sql() -> str:
    """The statement counting, per business unit, category and age band, the repairs
    (by the device's age when repaired) and the devices (by their age on the day
    bound three times as a parameter). Devices without a purchase date are left out.
    One statement, two grouped halves joined by UNION ALL; the page's selector ran
    the same statement per request, scoped and without the unit."""
    if connection.vendor == "postgresql":
        repair_age = "(CAST(e.occurred_at AS date) - d.purchase_date) / 365.25"
        device_age = "(CAST(%s AS date) - d.purchase_date) / 365.25"
        floor = "FLOOR"
    else:
        repair_age = "(julianday(e.occurred_at) - julianday(d.purchase_date)) / 365.25"
        device_age = "(julianday(%s) - julianday(d.purchase_date)) / 365.25"
        floor = ""
    band = "CASE WHEN {a} >= 6 THEN 6 WHEN {a} < 0 THEN 0 ELSE CAST({f}({a}) AS INTEGER) END"
    # Constant fragments only; the day is a bound parameter.
    return f"""
SELECT 'r', d.business_unit_id, dm.category, {band.format(a=repair_age, f=floor)} AS band,
       COUNT(*)
FROM devices_deviceevent e
JOIN devices_device d ON d.id = e.device_id
JOIN devices_devicemodel dm ON dm.id = d.device_model_id
WHERE e.kind = 'repaired' AND d.purchase_date IS NOT NULL
GROUP BY d.business_unit_id, dm.category, band
UNION ALL
SELECT 'd', d.business_unit_id, dm.category, {band.format(a=device_age, f=floor)} AS band,
       COUNT(*)
FROM devices_device d
JOIN devices_devicemodel dm ON dm.id = d.device_model_id
WHERE d.purchase_date IS NOT NULL
GROUP BY d.business_unit_id, dm.category, band
"""  # noqa: S608


def failure_rates_snapshot_refresh(*, now: dt.datetime | None = None) -> dt.datetime:
    """Replace the failure-rate snapshot with the estate's figures at ``now`` (business
    case: "older devices break more frequently"; the app shows failure rate by age).

    Set-based: one grouped statement over the repair events and the devices, then
    one bulk insert of the rows (a few per unit and category), in one transaction,
    so the page never sees half a snapshot. Per unit and category, the devices that
    reached a band are those now in that band or older, which adds up across units
    the way the page sums them. Returns the moment computed (every row's
    ``computed_at``).
    """
    now = now or timezone.now()
    today = connection.ops.adapt_datefield_value(timezone.localdate(now))
    repairs: dict[tuple[int, str], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    by_age: dict[tuple[int, str], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    with transaction.atomic():
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # The nightly task and a first visit to the page may refresh at once:
                # the second waits, then replaces the first's rows (it deletes what
                # the first committed), instead of failing on the unique key.
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [FAILURE_RATES_LOCK_KEY])
            # device_age appears three times in the band expression.
            cursor.execute(failure_counts_sql(), [today, today, today])
            for kind, unit_id, category, band, n in cursor.fetchall():
                target = repairs if kind == "r" else by_age
                target[(unit_id, category)][int(band)] += n
        rows = []
        for key in sorted(by_age.keys() | repairs.keys()):
            unit_id, category = key
            reached = 0
            for band in reversed(BANDS):
                reached += by_age[key][band]
                n = repairs[key][band]
                if reached or n:
                    rows.append(
                        FailureRateSnapshot(
                            business_unit_id=unit_id,
                            category=category,
                            band=band,
                            repairs=n,
                            devices=reached,
                            computed_at=now,
                        )
                    )
        FailureRateSnapshot.objects.all().delete()
        FailureRateSnapshot.objects.bulk_create(rows, batch_size=5_000)
    return now


def failure_rates_for_page(*, scope):
    """The failure rates a page shows for ``scope`` (``refresh.selectors.failure_rates_snapshot``)
    and, when no snapshot existed yet (a fresh install before its first night), the
    moment one was computed for it, so the page says so rather than passing it off
    as the nightly figures; ``None`` otherwise."""
    result = failure_rates_snapshot(scope=scope)
    if result.as_at is not None:
        return result, None
    computed_now = failure_rates_snapshot_refresh()
    return failure_rates_snapshot(scope=scope), computed_now
