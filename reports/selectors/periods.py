"""Report periods (calendar months, read in Europe/London) and the idle cut-off."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone

from core.financial_year import LONDON


def default_idle_days() -> int:
    """Devices not seen for this many days are idle (setting REPORTS_IDLE_DAYS, default 90)."""
    return settings.REPORTS_IDLE_DAYS


def month_period(day: dt.date) -> tuple[dt.date, dt.date]:
    """The calendar month containing ``day``: (first day, last day)."""
    start = day.replace(day=1)
    following = (start + dt.timedelta(days=32)).replace(day=1)
    return start, following - dt.timedelta(days=1)


def previous_month(today: dt.date) -> tuple[dt.date, dt.date]:
    """The month before the one ``today`` falls in: what the 1st-of-month beat reports on."""
    return month_period(today.replace(day=1) - dt.timedelta(days=1))


def london_today() -> dt.date:
    """Today in Europe/London, the zone report periods are read in."""
    return timezone.now().astimezone(LONDON).date()


def period_bounds(period_start: dt.date, period_end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The period as aware datetimes [start, end) read in Europe/London."""
    start = dt.datetime.combine(period_start, dt.time.min, tzinfo=LONDON)
    end = dt.datetime.combine(period_end + dt.timedelta(days=1), dt.time.min, tzinfo=LONDON)
    return start, end


def idle_cutoff(period_end: dt.date, idle_days: int) -> dt.datetime:
    """A device last seen before this moment is idle at the end of the period."""
    return period_bounds(period_end, period_end)[1] - dt.timedelta(days=idle_days)


def report_period_range() -> tuple[dt.date, dt.date]:
    """The months a report may be asked for, as their first days: from
    REPORTS_FIRST_PERIOD (default January 2000) to the current month in London (a
    period cannot start in the future)."""
    first = settings.REPORTS_FIRST_PERIOD
    return dt.date.fromisoformat(f"{first}-01"), london_today().replace(day=1)


def report_period_parse(value: str | None, *, label: str = "Month") -> dt.date:
    """A report period typed as ``YYYY-MM`` (or the month's first day, ``YYYY-MM-DD``)
    as the month's first day, or ValueError with a message naming ``label`` and the
    range: the one check the page form, the list filter and the API share."""
    text = (value or "").strip()
    first, last = report_period_range()
    span = f"from {first:%B %Y} to {last:%B %Y}"
    try:
        if len(text) == 7:
            month = dt.date.fromisoformat(f"{text}-01")
        elif len(text) == 10:
            month = dt.date.fromisoformat(text)
            if month.day != 1:
                raise ValueError(text)
        else:
            raise ValueError(text)
    except ValueError:
        raise ValueError(f"{label} must be a year and month like {last:%Y-%m}, {span}") from None
    if not first <= month <= last:
        raise ValueError(f"{label} must be {span}")
    return month
