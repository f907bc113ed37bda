"""The demo leaves last month's reports for every unit, with the month before's figures
so the trend has something to compare with."""

import datetime as dt
import io
import random

from reports import demo
from reports.models import ReportRun


def test_demo_leaves_last_months_reports_for_every_unit_with_a_trend(estate, mailoutbox):
    # Given the hand-built estate, when the demo seeds on 25 November 2026
    out = io.StringIO()
    demo.seed(rng=random.Random(7), today=dt.date(2026, 11, 25), stdout=out)
    # Then October has a succeeded run with files for every unit
    october = ReportRun.objects.filter(kind="stewardship", period_start=dt.date(2026, 10, 1))
    assert october.count() == 3
    assert all(
        r.status == "succeeded" and r.xlsx_file and r.csv_file and r.pdf_file for r in october
    )
    # and September's figures feed October's trend
    a = october.get(business_unit=estate.a)
    assert a.summary["previous_period_start"] == "2026-09-01"
    trend = {row["key"]: row for row in a.summary["trend"]}
    assert trend["devices_held"]["previous"] == 17
    # and the finance report exists, and no demo e-mails went out
    assert ReportRun.objects.filter(kind="finance", period_start=dt.date(2026, 10, 1)).exists()
    assert mailoutbox == []
    assert "3 stewardship reports for October 2026" in out.getvalue()
