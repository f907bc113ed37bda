"""What the procurement services share: pounds, today's date in London and
calendar-month arithmetic."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from core.financial_year import LONDON

ZERO = Decimal("0.00")


def london_today() -> dt.date:
    """Today in Europe/London: the day orders are approved and goods received on."""
    return timezone.now().astimezone(LONDON).date()


def gbp(value: Decimal) -> str:
    return f"£{value:,.2f}"


def add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    # 29 February plus whole years lands on 28 February.
    for last in (31, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")
