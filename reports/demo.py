"""Demo data for the reports: last month's stewardship report generated for every
unit (real files, so a unit lead has something to download on first run), the
finance report for last month, and the month before's figures so the trend shows.

Runs the real generation synchronously: every unit's figures from one set-based
pass, then each unit's files. No e-mails are sent for demo runs.

The demo's reports use a lower device-rows cap (DEMO_MAX_DEVICE_ROWS) than the
product default (REPORTS_MAX_DEVICE_ROWS, 100,000): at 80,000 devices no unit would
reach the default, so every device would be written once per ancestor (295,000 rows,
most of a minute on a fresh machine), and the demo would never show the rule at
work. With it (about a large unit's size), MET, the larger directorates and commands
list their own devices and a per-sub-unit sheet (116,000 rows in all); a report
generated on demand afterwards uses the setting.
"""

from __future__ import annotations

import datetime as dt
import random
import time

from reports import selectors, services
from reports.models import ReportRun

DEMO_MAX_DEVICE_ROWS = 10_000


def seed(*, rng: random.Random, today: dt.date, stdout) -> None:
    """Deterministic for a given estate and ``today`` (rng is unused: nothing here is random)."""
    del rng
    last_start, _ = selectors.previous_month(today)
    before_start, before_end = selectors.previous_month(last_start)
    started = time.perf_counter()
    _figures_only(period_start=before_start, period_end=before_end)
    outcome = services.stewardship_reports_generate_now(
        period_start=last_start, notify=False, max_device_rows=DEMO_MAX_DEVICE_ROWS
    )
    ReportRun.objects.filter(period_start=last_start).update(trigger=ReportRun.Trigger.DEMO)
    finance = services.finance_report_run(period_start=last_start)
    if finance is not None:
        ReportRun.objects.filter(pk=finance.pk).update(trigger=ReportRun.Trigger.DEMO)
    stdout.write(
        f"reports: {outcome['succeeded']} stewardship reports for {last_start:%B %Y} "
        f"({outcome['failed']} failed), the finance report, and {before_start:%B %Y} figures "
        f"for the trend in {time.perf_counter() - started:.1f}s\n"
    )


def _figures_only(*, period_start: dt.date, period_end: dt.date) -> None:
    """The month before's runs hold figures only (no files), set-based: one pass of
    the selectors and one bulk insert, so the first real report has a trend."""
    idle_days = selectors.default_idle_days()
    figures = selectors.stewardship_figures(
        period_start=period_start, period_end=period_end, idle_days=idle_days
    )
    now = selectors.period_bounds(period_end, period_end)[1]
    ReportRun.objects.bulk_create(
        [
            ReportRun(
                kind=ReportRun.Kind.STEWARDSHIP,
                business_unit_id=unit_id,
                period_start=period_start,
                period_end=period_end,
                status=ReportRun.Status.SUCCEEDED,
                trigger=ReportRun.Trigger.DEMO,
                idle_days=idle_days,
                started_at=now,
                finished_at=now,
                summary={
                    key: fig[key]
                    for key in (
                        "headline",
                        "by_category_status",
                        "entitlement",
                        "stock",
                        "idle",
                        "lost",
                        "refresh",
                    )
                },
            )
            for unit_id, fig in figures.items()
        ],
        ignore_conflicts=True,
    )
