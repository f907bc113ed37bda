"""When a device is due for refresh, and in which financial year: the rule.

The nightly eligibility statement (``refresh/eligibility_sql.py``) applies it to every
device in SQL and keeps the counts the forecast reads (``unit_year_groups``); a read of
the estate as it stood at a past date (the stewardship report's figures as at a
period's end) applies it to groups of devices in Python through these functions. The
two formulations are held equal by a test that computes both on the same estate
(``tests/reports/test_refresh_due_agrees.py``).

- A device in use or in stock (``ELIGIBLE_STATUSES``) is eligible.
- A deployed device not seen for its category's policy's idle days is reclaimed to
  stock, not refreshed.
- It is forced (due in the current year whatever its age) when its repairs reach the
  policy's threshold, its model is out of support on the day, or its operating system
  is and the policy says that forces refresh.
- Otherwise it is due in the financial year of its purchase month plus the policy's
  lifecycle, or in the current year when that has passed.
"""

from __future__ import annotations

import datetime as dt

from refresh.eligibility_sql import ELIGIBLE_STATUSES

__all__ = [
    "ELIGIBLE_STATUSES",
    "due_financial_year",
    "forced",
    "os_out_of_support",
    "refresh_year",
]


def due_financial_year(purchase_year: int, purchase_month: int, lifecycle_months: int) -> int:
    """The financial year (its start year; UK years start on 1 April) of the month a
    device bought in ``purchase_year``/``purchase_month`` reaches ``lifecycle_months``."""
    index = purchase_year * 12 + (purchase_month - 1) + lifecycle_months
    year, month = index // 12, index % 12 + 1
    return year if month >= 4 else year - 1


def os_out_of_support(os_version: str, ends: list[tuple[str, dt.date]], on_date: dt.date) -> bool:
    """Whether ``os_version`` begins with (case aside) an operating system prefix whose
    end of support is on or before ``on_date``. ``ends``: (prefix, end of support)."""
    text = (os_version or "").lower()
    return bool(text) and any(
        text.startswith(prefix.lower()) and end <= on_date for prefix, end in ends
    )


def forced(
    *,
    repairs_reached: bool,
    model_end_of_support: dt.date | None,
    os_out_of_support: bool,
    os_end_of_support_forces_refresh: bool,
    on_date: dt.date,
) -> bool:
    """Whether a device is due now whatever its age (see the module's rule)."""
    return bool(
        repairs_reached
        or (model_end_of_support is not None and model_end_of_support <= on_date)
        or (os_end_of_support_forces_refresh and os_out_of_support)
    )


def refresh_year(
    *, current_start_year: int, due_fy: int | None, is_forced: bool, reclaim: bool
) -> int | None:
    """The financial year (start year) a device is refreshed in, or None: reclaimed
    devices are not refreshed, forced ones are due in the current year, the rest in
    their due year or the current one if that has passed; a device with no due year
    (no purchase date) and no other reason is in none."""
    if reclaim:
        return None
    if is_forced:
        return current_start_year
    if due_fy is None:
        return None
    return max(due_fy, current_start_year)
