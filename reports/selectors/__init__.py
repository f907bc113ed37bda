"""Reads for the reports: the stewardship figures for every unit (``figures``, rolled
up by ``rollup``), the device-level rows of one unit's subtree (``device_rows``), both
over the estate as it stood at the period's end (``as_at``, ``refresh_due``), and the
runs a user may see with the finance position (``runs``); ``labels`` and ``periods``
hold what they share. Callers use ``from reports import selectors`` and ``selectors.x``.
"""

from reports.selectors.device_rows import (
    DEVICE_ROW_DATE_COLUMNS,
    DEVICE_ROW_DATETIME_COLUMNS,
    DEVICE_ROW_HEADER,
    EXCEL_DEVICE_ROWS,
    lists_whole_subtree,
    max_device_rows,
    stewardship_device_rows,
)
from reports.selectors.figures import stewardship_figures, stewardship_unit_figures
from reports.selectors.labels import (
    CATEGORIES,
    CATEGORY_LABELS,
    HEADLINE_LABELS,
    HELD_STATUSES,
    IN_USE,
    STATUS_LABELS,
)
from reports.selectors.periods import (
    default_idle_days,
    idle_cutoff,
    london_today,
    month_period,
    period_bounds,
    previous_month,
    report_period_parse,
    report_period_range,
)
from reports.selectors.runs import (
    as_at_label,
    finance_position,
    generatable_units,
    may_generate,
    may_see_finance,
    previous_summary,
    report_run_get,
    report_run_list,
    run_trend,
    summary_sections,
    summary_status_table,
    trend,
)

__all__ = [
    "CATEGORIES",
    "CATEGORY_LABELS",
    "DEVICE_ROW_DATETIME_COLUMNS",
    "DEVICE_ROW_DATE_COLUMNS",
    "DEVICE_ROW_HEADER",
    "EXCEL_DEVICE_ROWS",
    "HEADLINE_LABELS",
    "HELD_STATUSES",
    "IN_USE",
    "STATUS_LABELS",
    "as_at_label",
    "default_idle_days",
    "finance_position",
    "generatable_units",
    "idle_cutoff",
    "lists_whole_subtree",
    "london_today",
    "may_generate",
    "may_see_finance",
    "max_device_rows",
    "month_period",
    "period_bounds",
    "previous_month",
    "previous_summary",
    "report_period_parse",
    "report_period_range",
    "report_run_get",
    "report_run_list",
    "stewardship_device_rows",
    "stewardship_figures",
    "stewardship_unit_figures",
    "run_trend",
    "summary_sections",
    "summary_status_table",
    "trend",
]
