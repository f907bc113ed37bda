"""Failure analytics: repairs per 100 devices by age band and category."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from accounts.models import BusinessUnit
from refresh.selectors.forecast_engine import CATEGORIES

AGE_BANDS = ["0–1", "1–2", "2–3", "3–4", "4–5", "5–6", "6+"]


def failure_rates(*, scope) -> list[dict]:
    """Repairs per 100 devices by age band and category.

    Definition (shown on the page): a repair falls in the band of the device's
    age when it was repaired (whole years since purchase, 6 and over together);
    the denominator of a band is the number of devices that have reached that
    age (purchased at least that many years ago), so the rate reads as
    "repairs per 100 devices during that year of their life". Devices without a
    purchase date are left out. One statement (two grouped halves joined by
    UNION ALL), scoped by business unit.
    """
    vendor = connection.vendor
    if vendor == "postgresql":
        repair_age = "(CAST(e.occurred_at AS date) - d.purchase_date) / 365.25"
        device_age = "(CAST(%s AS date) - d.purchase_date) / 365.25"
        floor = "FLOOR"
    else:
        repair_age = "(julianday(e.occurred_at) - julianday(d.purchase_date)) / 365.25"
        device_age = "(julianday(%s) - julianday(d.purchase_date)) / 365.25"
        floor = ""
    band = "CASE WHEN {a} >= 6 THEN 6 WHEN {a} < 0 THEN 0 ELSE CAST({f}({a}) AS INTEGER) END"
    if scope.empty:
        return []
    scope_sql, scope_params = "", []
    if not scope.unrestricted:
        # The units in scope, as the scoped manager selects them, bound into the
        # raw statement as a subquery (its values stay bound parameters).
        units_sql, units_params = (
            BusinessUnit.objects.within(scope).order_by().values("pk").query.sql_with_params()
        )
        scope_sql = f" AND d.business_unit_id IN ({units_sql})"
        scope_params = list(units_params)
    today = connection.ops.adapt_datefield_value(timezone.localdate())
    # Constant fragments only; every value is a bound parameter.
    sql = f"""
SELECT 'r', dm.category, {band.format(a=repair_age, f=floor)} AS band, COUNT(*)
FROM devices_deviceevent e
JOIN devices_device d ON d.id = e.device_id
JOIN devices_devicemodel dm ON dm.id = d.device_model_id
WHERE e.kind = 'repaired' AND d.purchase_date IS NOT NULL{scope_sql}
GROUP BY dm.category, band
UNION ALL
SELECT 'd', dm.category, {band.format(a=device_age, f=floor)} AS band, COUNT(*)
FROM devices_device d
JOIN devices_devicemodel dm ON dm.id = d.device_model_id
WHERE d.purchase_date IS NOT NULL{scope_sql}
GROUP BY dm.category, band
"""  # noqa: S608
    # device_age appears three times in the band expression.
    params = [*scope_params, today, today, today, *scope_params]
    repairs: dict[tuple[str, int], int] = defaultdict(int)
    by_age: dict[tuple[str, int], int] = defaultdict(int)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for kind, cat, band_no, n in cursor.fetchall():
            target = repairs if kind == "r" else by_age
            target[(cat, int(band_no))] += n
    out = []
    for cat in CATEGORIES:
        # Devices that reached band b: those now in band b or older.
        reached = 0
        reached_by_band = {}
        for b in range(6, -1, -1):
            reached += by_age.get((cat, b), 0)
            reached_by_band[b] = reached
        if not reached_by_band[0]:
            continue
        for b, label in enumerate(AGE_BANDS):
            devices = reached_by_band[b]
            n = repairs.get((cat, b), 0)
            rate = (Decimal(n) * 100 / devices).quantize(Decimal("0.1")) if devices else None
            out.append(
                {"category": cat, "band": label, "repairs": n, "devices": devices, "rate": rate}
            )
    return out
