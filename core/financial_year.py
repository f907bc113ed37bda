"""The one place a date or time becomes a UK financial year (1 April to 31 March).

A financial year is named by the calendar year it starts in and labelled like
``2025/26``. Datetimes are read in Europe/London, so 31 March 23:30 BST (22:30 UTC)
belongs to the year that ends that night, and 1 April 00:30 BST (31 March 23:30
UTC) to the next one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")


@dataclass(frozen=True, order=True)
class FinancialYear:
    """A UK financial year, named by the calendar year it starts in."""

    start_year: int

    @property
    def start(self) -> dt.date:
        return dt.date(self.start_year, 4, 1)

    @property
    def end(self) -> dt.date:
        """The last day of the year (31 March), inclusive."""
        return dt.date(self.start_year + 1, 3, 31)

    @property
    def label(self) -> str:
        return f"{self.start_year}/{(self.start_year + 1) % 100:02d}"

    def __str__(self) -> str:
        return self.label

    def next(self) -> FinancialYear:
        return FinancialYear(self.start_year + 1)

    def previous(self) -> FinancialYear:
        return FinancialYear(self.start_year - 1)

    def contains(self, day: dt.date) -> bool:
        return self.start <= day <= self.end

    @classmethod
    def parse(cls, label: str) -> FinancialYear:
        """Read ``2025/26`` (or ``2025-26``); raise ValueError for anything else."""
        text = label.strip().replace("-", "/")
        try:
            first, second = text.split("/")
            start = int(first)
            end = int(second)
        except ValueError as exc:
            raise ValueError(f"{label!r} is not a financial year like 2025/26") from exc
        if len(first) != 4 or (start + 1) % 100 != end % 100:
            raise ValueError(f"{label!r} is not a financial year like 2025/26")
        return cls(start)


def financial_year(value: dt.date | dt.datetime) -> FinancialYear:
    """The financial year a date, or an aware datetime read in Europe/London, falls in."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError("financial_year() needs an aware datetime")
        value = value.astimezone(LONDON).date()
    return FinancialYear(value.year if value.month >= 4 else value.year - 1)


def financial_year_label(value: dt.date | dt.datetime) -> str:
    return financial_year(value).label


def current_financial_year() -> FinancialYear:
    from django.utils import timezone

    return financial_year(timezone.now())
