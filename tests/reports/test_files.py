"""The report files: XLSX (summary first, native charts, device rows), CSV and PDF;
the classification marking and the period in every format; formula neutralisation."""

import base64
import csv
import io
import re
import zipfile
import zlib

import openpyxl
import pytest

from accounts.roles import Role
from core.exports import OFFICIAL, OFFICIAL_SENSITIVE_COMMERCIAL
from devices.models import Category, Device
from reports import documents, services
from reports.models import ReportRun
from tests.factories import DeviceFactory, UserFactory
from tests.reports.conftest import PERIOD_START

HOSTILE = {
    "asset_tag": '=HYPERLINK("http://evil","x")',
    "location": "@SUM(A1:A9)",
    "os_version": "+cmd|' /C calc'!A0",
    "serial_number": "-2+3",
}


@pytest.fixture
def run(estate, django_capture_on_commit_callbacks):
    DeviceFactory(
        business_unit=estate.a1,
        device_model=estate.models[Category.LAPTOP],
        status=Device.Status.IN_STOCK,
        **HOSTILE,
    )
    DeviceFactory(
        business_unit=estate.a1,
        device_model=estate.models[Category.LAPTOP],
        location="\tTabbed\rreturn",
    )
    with django_capture_on_commit_callbacks(execute=True):
        result = services.stewardship_report_unit_run(
            unit_id=estate.a.pk, period_start=PERIOD_START
        )
    assert result is not None and result.status == ReportRun.Status.SUCCEEDED
    return result


def _read(field) -> bytes:
    with field.storage.open(field.name, "rb") as handle:
        return handle.read()


def _pdf_text(data: bytes) -> str:
    """The text-drawing operators of every (Flate-compressed) page stream."""
    out = [data.decode("latin-1")]
    for match in re.finditer(rb"stream\r?\n(.*?)endstream", data, re.S):
        raw = match.group(1).strip()
        try:
            if raw.endswith(b"~>"):  # reportlab's default: ASCII85 over Flate
                raw = base64.a85decode(b"<~" + raw, adobe=True)
            out.append(zlib.decompress(raw).decode("latin-1"))
        except (ValueError, zlib.error):
            continue
    return "\n".join(out)


def test_xlsx_has_summary_first_with_marking_period_and_native_charts(run):
    data = _read(run.xlsx_file)
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames[0] == "Summary"
    summary = book["Summary"]
    assert summary["A1"].value == OFFICIAL
    assert summary["A4"].value == "Period" and summary["B4"].value == run.period_label
    assert OFFICIAL in summary.oddHeader.center.text
    assert OFFICIAL in book["Devices"].oddFooter.left.text
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    charts = [n for n in names if n.startswith("xl/charts/chart")]
    assert len(charts) >= 3  # by category/status, entitlement, idle (trend needs a previous run)
    assert b"<c:barChart>" in zipfile.ZipFile(io.BytesIO(data)).read(charts[0])


def test_xlsx_device_rows_are_one_per_device_in_the_subtree(run):
    book = openpyxl.load_workbook(io.BytesIO(_read(run.xlsx_file)))
    devices = book["Devices"]
    assert devices["A1"].value == OFFICIAL
    assert devices["A2"].value == f"Period: {run.period_label}"
    assert devices["A3"].value == "Asset tag"
    rows = list(devices.iter_rows(min_row=4, values_only=True))
    assert len(rows) == run.device_rows == 19  # 17 in the estate + 2 added here
    assert {r[6] for r in rows} == {"A", "A1"}


def test_xlsx_neutralises_formula_triggers_and_writes_them_as_strings(run):
    book = openpyxl.load_workbook(io.BytesIO(_read(run.xlsx_file)))
    devices = book["Devices"]
    header = [c.value for c in devices[3]]
    cells = {}
    for row in devices.iter_rows(min_row=4):
        for name, cell in zip(header, row, strict=True):
            cells.setdefault(name, []).append(cell)
    for column, value in [
        ("Asset tag", HOSTILE["asset_tag"]),
        ("Location", HOSTILE["location"]),
        ("OS version", HOSTILE["os_version"]),
        ("Serial number", HOSTILE["serial_number"]),
        ("Location", "\tTabbed\rreturn"),
    ]:
        # OOXML stores a carriage return as _x000D_; openpyxl leaves inline strings escaped.
        matching = [
            c for c in cells[column] if (c.value or "").replace("_x000D_", "\r") == "'" + value
        ]
        assert matching, f"{column} {value!r} not neutralised"
        assert all(c.data_type == "s" for c in matching)
    # No cell anywhere in the workbook is a formula.
    for sheet in book:
        for row in sheet.iter_rows():
            assert not any(c.data_type == "f" for c in row)


def test_csv_carries_marking_period_and_neutralised_device_rows(run):
    text = _read(run.csv_file).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [f"Classification: {OFFICIAL}"]
    assert rows[1] == [f"Period: {run.period_label}"]
    assert rows[2][0] == "Asset tag"
    body = rows[3:]
    assert len(body) == 19
    flat = {cell for row in body for cell in row}
    for value in HOSTILE.values():
        assert "'" + value in flat
        assert value not in flat
    assert "'\tTabbed\rreturn" in flat


def test_pdf_is_marked_on_every_page_and_names_the_period(run):
    data = _read(run.pdf_file)
    assert data.startswith(b"%PDF")
    text = _pdf_text(data)
    pages = len(re.findall(rb"/Type /Page\b", data))
    assert 2 <= pages <= 4  # a readable summary a unit lead can print
    # Header and footer: two markings per page.
    assert text.count(f"({OFFICIAL})") >= 2 * pages
    assert "Period: 1 October 2026 to 31 October 2026" in text


def test_stewardship_report_holds_no_commercial_figures_and_is_official(run):
    assert run.classification == OFFICIAL
    book = openpyxl.load_workbook(io.BytesIO(_read(run.xlsx_file)))
    header = [c.value for c in book["Devices"][3]]
    assert not any("cost" in h.lower() or "price" in h.lower() for h in header)


def test_finance_report_is_marked_commercial_in_all_three_formats(db, tmp_path):
    import datetime as dt
    from decimal import Decimal

    from procurement import services as procurement_services
    from procurement.selectors import envelope_position
    from reports.writers import csv as csv_writer
    from reports.writers import pdf as pdf_writer
    from reports.writers import xlsx as xlsx_writer

    # An envelope whose name would run as a formula in a spreadsheet.
    envelope = procurement_services.capital_envelope_create(
        name="=1+1",
        total=Decimal("46763000.00"),
        decision_reference="DMPC-2025-001",
        owner=UserFactory(role=Role.FINANCE),
    )
    for year, amount in (("2025/26", "1000.00"), ("2026/27", "900.00")):
        procurement_services.budget_line_create(
            envelope=envelope, financial_year=year, category="laptop", amount=Decimal(amount)
        )
    position = envelope_position()
    document = documents.finance_document(
        position=position,
        period_label="October 2026",
        generated_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
    )
    assert document.marking == OFFICIAL_SENSITIVE_COMMERCIAL
    out = {}
    for name, writer in [("xlsx", xlsx_writer), ("csv", csv_writer), ("pdf", pdf_writer)]:
        buffer = io.BytesIO()
        writer.write(document, buffer)
        out[name] = buffer.getvalue()
    book = openpyxl.load_workbook(io.BytesIO(out["xlsx"]))
    assert book["Summary"]["A1"].value == OFFICIAL_SENSITIVE_COMMERCIAL
    assert book["Position"].max_row > 2  # the budget lines, one row each
    values = [c.value for sheet in book for row in sheet.iter_rows() for c in row]
    assert "'=1+1" in values and "=1+1" not in values
    lines = out["csv"].decode("utf-8-sig").splitlines()
    assert lines[0] == f"Classification: {OFFICIAL_SENSITIVE_COMMERCIAL}"
    # The CSV carries the position's rows (one per budget line), under the marking.
    assert any(
        line.startswith(f"{envelope.budget_lines.get(financial_year='2026/27').pk},2026/27,laptop")
        for line in lines
    )
    assert f"({OFFICIAL_SENSITIVE_COMMERCIAL})" in _pdf_text(out["pdf"])


@pytest.mark.django_db
def test_finance_report_says_so_when_no_envelope_is_recorded():
    import datetime as dt

    from procurement.selectors import envelope_position

    document = documents.finance_document(
        position=envelope_position(),
        period_label="October 2026",
        generated_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
    )
    assert document.notes == [documents.NO_ENVELOPE]
    assert document.tables == [] and document.headline == []
