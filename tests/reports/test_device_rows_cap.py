"""The device-rows rule (REPORTS_MAX_DEVICE_ROWS): a unit's XLSX and CSV list every
device in its subtree up to the cap; above it, only the devices the unit holds
directly, with a per-sub-unit summary sheet and a note on the summary sheet and in
the PDF. The figures include every sub-unit either way.

In the hand-built estate A's subtree holds 17 devices: 9 held by A itself, 8 by A1.
"""

import csv
import html
import io

import openpyxl
import pytest

from devices.models import Device
from reports import selectors, services
from reports.models import ReportRun
from tests.reports.conftest import PERIOD_END, PERIOD_START
from tests.reports.test_files import _pdf_text, _read

SUMMARY_KEYS = ("headline", "by_category_status", "entitlement", "stock", "idle", "lost")


def _report(unit, capture):
    with capture(execute=True):
        run = services.stewardship_report_unit_run(unit_id=unit.pk, period_start=PERIOD_START)
    assert run is not None and run.status == ReportRun.Status.SUCCEEDED, run and run.error
    return run


def _held(**lookup) -> int:
    return Device.objects.filter(**lookup).exclude(status=Device.Status.DISPOSED).count()


def _device_sheet_rows(run) -> list[tuple]:
    book = openpyxl.load_workbook(io.BytesIO(_read(run.xlsx_file)))
    return list(book["Devices"].iter_rows(min_row=4, values_only=True))


def test_a_subtree_at_the_cap_lists_every_device_of_its_sub_units(
    estate, settings, django_capture_on_commit_callbacks
):
    # Given a cap equal to A's subtree (17 devices: "at most" the cap is listed whole)
    settings.REPORTS_MAX_DEVICE_ROWS = _held(business_unit__path__startswith=estate.a.path)
    # When A's report is built
    run = _report(estate.a, django_capture_on_commit_callbacks)
    # Then every device of A and A1 is a row, and there is no sub-unit sheet or note
    rows = _device_sheet_rows(run)
    assert len(rows) == run.device_rows == 17
    assert {r[6] for r in rows} == {"A", "A1"}
    book = openpyxl.load_workbook(io.BytesIO(_read(run.xlsx_file)))
    assert book.sheetnames == ["Summary", "Devices"]
    assert "sub-unit's own report" not in _pdf_text(_read(run.pdf_file))


def test_a_subtree_over_the_cap_lists_only_the_units_own_devices_with_a_sub_unit_summary(
    estate, settings, django_capture_on_commit_callbacks
):
    # Given a cap one below A's subtree
    settings.REPORTS_MAX_DEVICE_ROWS = _held(business_unit__path__startswith=estate.a.path) - 1
    # When A's report is built
    run = _report(estate.a, django_capture_on_commit_callbacks)
    # Then the device sheet and the CSV hold only the 9 devices A holds itself
    own = _held(business_unit=estate.a)
    assert own == 9
    rows = _device_sheet_rows(run)
    assert len(rows) == run.device_rows == own
    assert {r[6] for r in rows} == {"A"}
    lines = list(csv.reader(io.StringIO(_read(run.csv_file).decode("utf-8-sig"))))
    assert len(lines[3:]) == own
    # and the sub-unit sheet counts A1's devices by category and status
    book = openpyxl.load_workbook(io.BytesIO(_read(run.xlsx_file)))
    assert book.sheetnames == ["Summary", "Sub-units", "Devices"]
    assert "each sub-unit's report lists its own" in book["Devices"]["C1"].value
    values = [row for row in book["Sub-units"].iter_rows(values_only=True) if row[0] in ("A", "A1")]
    header = next(row for row in book["Sub-units"].iter_rows(values_only=True) if row[0] == "Unit")
    total = header.index("Total")
    assert sum(r[total] for r in values if r[0] == "A1") == _held(business_unit=estate.a1)
    assert sum(r[total] for r in values if r[0] == "A") == own
    monitors = next(r for r in values if r[0] == "A1" and r[2] == "Monitor")
    assert monitors[header.index("Deployed")] == 3 and monitors[header.index("In stock")] == 1
    # and the summary sheet and the PDF say where the other rows are
    summary_text = " ".join(
        str(c) for row in book["Summary"].iter_rows(values_only=True) for c in row if c
    )
    assert "each sub-unit are listed in that sub-unit's own report" in summary_text
    assert "still includes all sub-units" in summary_text
    pdf = _pdf_text(_read(run.pdf_file))
    assert "own report" in pdf and "includes all sub-units" in pdf


def test_the_cap_changes_no_figure(estate, settings, django_capture_on_commit_callbacks):
    # Given the figures computed with no cap in play
    figures = selectors.stewardship_figures(
        period_start=PERIOD_START, period_end=PERIOD_END, idle_days=90
    )
    # When A's report is built with a cap far below its subtree
    settings.REPORTS_MAX_DEVICE_ROWS = 1
    run = _report(estate.a, django_capture_on_commit_callbacks)
    # Then every stored section is the whole subtree's, exactly as without the cap
    for key in SUMMARY_KEYS:
        assert run.summary[key] == figures[estate.a.pk][key], key
    assert run.summary["headline"]["devices_held"] == 17


@pytest.mark.parametrize("cap", [0, 10**9])
def test_the_cap_never_exceeds_excels_row_limit(settings, cap):
    settings.REPORTS_MAX_DEVICE_ROWS = cap
    assert selectors.max_device_rows() == min(cap, 1_048_576 - 3)


def test_the_run_page_says_when_the_files_list_only_the_units_own_devices(
    client, asset_manager, estate, settings, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    # Given A's report built above the cap
    settings.REPORTS_MAX_DEVICE_ROWS = 1
    run = _report(estate.a, django_capture_on_commit_callbacks)
    # When an asset manager opens it, then the page explains the device rows
    client.force_login(asset_manager)
    page = html.unescape(
        client.get(reverse("reports:report_detail", args=[run.pk])).content.decode()
    )
    assert "each sub-unit's report lists its own" in page
    assert "Every figure includes all sub-units" in page


def test_the_demo_writes_its_reports_with_the_demo_cap(estate, monkeypatch, mailoutbox):
    import datetime as dt
    import random

    from reports import demo

    # Given a demo cap below A's 17 devices but above B's 6 and A1's 8
    monkeypatch.setattr(demo, "DEMO_MAX_DEVICE_ROWS", 10)
    # When the demo seeds
    demo.seed(rng=random.Random(1), today=dt.date(2026, 11, 25), stdout=io.StringIO())
    # Then A's files list its own 9 devices and the others list their whole subtree
    runs = {
        r.business_unit.code: r
        for r in ReportRun.objects.filter(kind="stewardship", period_start=PERIOD_START)
    }
    assert runs["A"].device_rows == _held(business_unit=estate.a) == 9
    assert runs["A1"].device_rows == 8 and runs["B"].device_rows == 6
    assert runs["A"].summary["headline"]["devices_held"] == 17
