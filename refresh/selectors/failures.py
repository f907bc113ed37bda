"""Failure analytics: repairs per 100 devices by age band and category."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Max, Sum

from refresh.models import FailureRateSnapshot
from refresh.selectors.forecast_engine import CATEGORIES

AGE_BANDS = ["0–1", "1–2", "2–3", "3–4", "4–5", "5–6", "6+"]


@dataclass(frozen=True)
class FailureRates:
    """The page's rows and the moment the snapshot they come from was computed
    (``None`` when no snapshot exists yet)."""

    rows: list[dict]
    as_at: dt.datetime | None


def failure_rates_snapshot(*, scope) -> FailureRates:
    """Repairs per 100 devices by age band and category, from the snapshot.

    Definition (shown on the page): a repair falls in the band of the device's
    age when it was repaired (whole years since purchase, 6 and over together);
    the denominator of a band is the number of devices that have reached that
    age (purchased at least that many years ago), so the rate reads as
    "repairs per 100 devices during that year of their life". Devices without a
    purchase date are left out. The figures are those of the day the snapshot was
    computed (``refresh.services.failure_rates_snapshot_refresh``, nightly): one
    grouped query sums the rows of the units in scope, and ``computed_at`` comes
    with them, so the time shown is that of the rows shown even if a refresh
    commits meanwhile. Only a scope without rows asks for the time separately.
    """
    if scope.empty:
        return FailureRates(rows=[], as_at=None)
    grouped = (
        FailureRateSnapshot.objects.within(scope)
        .order_by()
        .values("category", "band")
        .annotate(n=Sum("repairs"), reached=Sum("devices"), as_at=Max("computed_at"))
    )
    repairs: dict[tuple[str, int], int] = defaultdict(int)
    reached_by: dict[tuple[str, int], int] = defaultdict(int)
    as_at = None
    for row in grouped:
        key = (row["category"], row["band"])
        repairs[key] += row["n"]
        reached_by[key] += row["reached"]
        as_at = max(as_at, row["as_at"]) if as_at else row["as_at"]
    if as_at is None:
        as_at = failure_rates_as_at()
    out = []
    for cat in CATEGORIES:
        if not reached_by.get((cat, 0)):
            continue
        for b, label in enumerate(AGE_BANDS):
            devices = reached_by.get((cat, b), 0)
            n = repairs.get((cat, b), 0)
            rate = (Decimal(n) * 100 / devices).quantize(Decimal("0.1")) if devices else None
            out.append(
                {"category": cat, "band": label, "repairs": n, "devices": devices, "rate": rate}
            )
    return FailureRates(rows=out, as_at=as_at)


def failure_rates(*, scope) -> list[dict]:
    """The rows of ``failure_rates_snapshot`` alone."""
    return failure_rates_snapshot(scope=scope).rows


def failure_rates_as_at() -> dt.datetime | None:
    """When the failure-rate snapshot was last computed (the whole estate's, one
    moment for every row), or ``None`` before the first refresh."""
    return FailureRateSnapshot.objects.aggregate(as_at=Max("computed_at"))["as_at"]
