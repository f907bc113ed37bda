"""The envelope position as pages, exports, the API and the finance report show it
(the headroom sum of ``procurement.selectors.headroom``), the commitments burn-down
and the volumes-only view for roles that may not see money."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db.models import Sum
from django.db.models.functions import TruncMonth

from accounts.scoping import UnitScope
from core.financial_year import FinancialYear
from procurement.models import COMMITTED_STATUSES, CapitalEnvelope, PurchaseOrder, money
from procurement.selectors.headroom import ZERO, current_envelope, headroom


def envelope_position(
    *,
    as_of: dt.date | None = None,
    envelope: CapitalEnvelope | None = None,
    scope: UnitScope | None = None,
) -> dict:
    """The envelope position: ``headroom`` for ``scope`` (None: the organisation), as
    of a day. One definition of headroom, so the finance report (which calls this)
    shows the same figure as the pages, the exports and the API."""
    return headroom(scope=scope, as_of=as_of, envelope=envelope)


def year_totals(position: dict) -> list[dict]:
    """The position's rows summed per financial year (each year with its signal)."""
    return position["years"]


def commitment_burn_down(
    *, envelope: CapitalEnvelope | None = None, scope: UnitScope | None = None
) -> list[dict]:
    """Cumulative commitments by month of approval against the envelope total, from
    the first month of the envelope's first year to the last month of its last.
    One aggregate query (plus the lines, to find the years)."""
    envelope = envelope or current_envelope()
    if envelope is None:
        return []
    years = sorted(
        {
            FinancialYear.parse(y)
            for y in envelope.budget_lines.values_list("financial_year", flat=True)
        }
    )
    orders = PurchaseOrder.objects.filter(
        budget_line__envelope=envelope, status__in=COMMITTED_STATUSES, approved_on__isnull=False
    )
    orders = orders.within(scope)
    by_month = {
        row["month"]: money(row["total"])
        for row in orders.annotate(month=TruncMonth("approved_on"))
        .values("month")
        .annotate(total=Sum("committed_total"))
        .order_by("month")
    }
    months = [m if isinstance(m, dt.date) else m.date() for m in by_month]
    by_month = {(m if isinstance(m, dt.date) else m.date()): v for m, v in by_month.items()}
    if years:
        start, end = years[0].start, years[-1].end
    elif months:
        start, end = min(months), max(months)
    else:
        return []
    if months:
        start = min(start, min(months))
    out = []
    cursor = dt.date(start.year, start.month, 1)
    running = ZERO
    while cursor <= end:
        running += by_month.get(cursor, ZERO)
        out.append(
            {
                "month": cursor,
                "label": cursor.strftime("%b %Y"),
                "committed_in_month": by_month.get(cursor, ZERO),
                "cumulative_committed": running,
                "envelope": envelope.total,
                "remaining": envelope.total - running,
            }
        )
        cursor = dt.date(cursor.year + cursor.month // 12, cursor.month % 12 + 1, 1)
    return out


def category_year_volumes(position: dict) -> list[dict]:
    """Volumes only (no money), for roles that may not see commercial figures."""
    grouped = defaultdict(lambda: {"ordered_volume": 0, "received_volume": 0})
    for row in position["rows"]:
        key = (row["financial_year"], row["category_label"])
        grouped[key]["ordered_volume"] += row["ordered_volume"]
        grouped[key]["received_volume"] += row["received_volume"]
        grouped[key]["forecast_volume"] = row["forecast_volume"]
        grouped[key]["closed"] = row["closed"]
    return [
        {"financial_year": fy, "category_label": cat, **values}
        for (fy, cat), values in sorted(grouped.items())
    ]
