"""XLSX with xlsxwriter in constant-memory mode: each row goes to disk as soon as
the next one starts, so a 25,000-row sheet costs no more memory than a 25-row one
(openpyxl's default mode holds every cell: about 270 MB per 50,000 rows).

The summary sheet comes first: the marking, the period, the headline figures,
each section as a table, and native Excel charts drawn from those tables. The
device-level rows follow on their own sheet.

Every string goes through ``core.exports.neutralise`` (the stewardship device rows
arrive neutralised from their selector) and is written as a string: a cell that
begins with ``=``, ``+``, ``-``, ``@``, tab or CR is shown as text and never run as
a formula (the workbook also has strings_to_formulas off).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from decimal import Decimal

import xlsxwriter

from core.exports import FORMULA_TRIGGERS, neutralise
from reports.writers.document import ReportDocument, Table

TRIGGER_CHARS = frozenset(FORMULA_TRIGGERS)
CHART_ROWS = 16  # rows of sheet a chart occupies beside its table


class _Cells:
    """Typed cell writing: numbers as numbers, dates as dates, strings as neutralised strings."""

    def __init__(self, workbook):
        self.date = workbook.add_format({"num_format": "yyyy-mm-dd"})
        self.datetime = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"})
        self.money = workbook.add_format({"num_format": "#,##0.00"})
        # Counts with thousands separators (13,054), as on the pages and in the PDF.
        self.count = workbook.add_format({"num_format": "#,##0"})

    def write(self, sheet, row: int, col: int, value, fmt=None) -> None:
        kind = type(value)
        if kind is str:  # the common case first: most device-row cells are text
            if value:
                if value[0] in TRIGGER_CHARS:
                    value = neutralise(value)
                sheet.write_string(row, col, value, fmt)
            elif fmt is not None:
                sheet.write_blank(row, col, None, fmt)
        elif value is None:
            if fmt is not None:
                sheet.write_blank(row, col, None, fmt)
        elif kind is bool:
            sheet.write_boolean(row, col, value, fmt)
        elif isinstance(value, Decimal):
            sheet.write_number(row, col, float(value), fmt or self.money)
        elif isinstance(value, int):
            sheet.write_number(row, col, value, fmt or self.count)
        elif isinstance(value, float):
            sheet.write_number(row, col, value, fmt or self.money)
        elif isinstance(value, dt.datetime):
            sheet.write_datetime(row, col, value.replace(tzinfo=None), fmt or self.datetime)
        elif isinstance(value, dt.date):
            sheet.write_datetime(row, col, value, fmt or self.date)
        else:
            sheet.write_string(row, col, neutralise(str(value)), fmt)


def write(document: ReportDocument, stream) -> None:
    """Write ``document`` as XLSX to the open binary ``stream``."""
    with tempfile.TemporaryDirectory(prefix="report-xlsx-") as tmpdir:
        workbook = xlsxwriter.Workbook(
            stream,
            {
                "constant_memory": True,
                "tmpdir": tmpdir,
                # Belt and braces: nothing a cell says is ever turned into a formula or link.
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
                "in_memory": False,
            },
        )
        workbook.set_properties(
            {
                "title": f"{document.title}: {document.subject}",
                "subject": f"Period: {document.period_label}",
                "keywords": document.marking,
                "comments": f"Classification: {document.marking}",
                "created": document.generated_at.replace(tzinfo=None),
            }
        )
        workbook.set_custom_property("Classification", document.marking)
        cells = _Cells(workbook)
        bold = workbook.add_format({"bold": True})
        marking_fmt = workbook.add_format({"bold": True, "font_color": "#d4351c", "font_size": 12})
        title_fmt = workbook.add_format({"bold": True, "font_size": 16})
        head_fmt = workbook.add_format({"bold": True, "bg_color": "#f3f2f1", "bottom": 1})

        summary = workbook.add_worksheet("Summary")
        _mark(summary, document)
        summary.set_column(0, 0, 38)
        summary.set_column(1, 12, 15)
        row = 0
        summary.write_string(row, 0, document.marking, marking_fmt)
        row += 1
        summary.write_string(row, 0, neutralise(document.title), title_fmt)
        row += 1
        summary.write_string(row, 0, neutralise(document.subject), bold)
        row += 1
        summary.write_string(row, 0, "Period")
        summary.write_string(row, 1, neutralise(document.period_label))
        row += 1
        if document.as_at:
            summary.write_string(row, 0, neutralise(document.as_at))
            row += 1
        row += 1
        if document.headline:
            summary.write_string(row, 0, "Headline figures", bold)
            row += 1
            for label, value in document.headline:
                summary.write_string(row, 0, neutralise(str(label)))
                cells.write(summary, row, 1, value)
                row += 1
            row += 1
        for table in document.tables:
            row = _table(workbook, summary, cells, table, row, bold, head_fmt)
        # What the reader needs to know about the run and the rows comes last.
        if document.notes or document.about:
            summary.write_string(row, 0, "About this report", bold)
            row += 1
            for note in document.notes:
                summary.write_string(row, 0, neutralise(note))
                row += 1
            for label, value in document.about:
                summary.write_string(row, 0, neutralise(str(label)))
                summary.write_string(row, 1, neutralise(str(value)))
                row += 1

        for name, tables in document.sheets:
            sheet = workbook.add_worksheet(name[:31])
            _mark(sheet, document)
            sheet.set_column(0, 1, 24)
            sheet.set_column(2, 14, 13)
            sheet.write_string(0, 0, document.marking, marking_fmt)
            sheet.write_string(1, 0, f"Period: {neutralise(document.period_label)}")
            row = 3
            for note in document.notes:
                sheet.write_string(row, 0, neutralise(note))
                row += 1
            row += 1
            for table in tables:
                row = _table(workbook, sheet, cells, table, row, bold, head_fmt)

        if document.detail_header is not None and document.detail_rows is not None:
            detail = workbook.add_worksheet(document.detail_title[:31])
            _mark(detail, document)
            detail.set_column(0, len(document.detail_header) - 1, 16)
            # Column formats: a cell written without a format takes its column's, so the
            # typed rows can go through write_row with no per-cell format choice.
            for col in document.detail_date_columns:
                detail.set_column(col, col, 16, cells.date)
            for col in document.detail_datetime_columns:
                detail.set_column(col, col, 16, cells.datetime)
            detail.write_string(0, 0, document.marking, marking_fmt)
            if document.detail_note:
                # Before row 1: constant-memory mode flushes a row once a later row is written.
                detail.write_string(0, 2, neutralise(document.detail_note), bold)
            detail.write_string(1, 0, f"Period: {neutralise(document.period_label)}")
            for col, name in enumerate(document.detail_header):
                detail.write_string(2, col, neutralise(name), head_fmt)
            detail.freeze_panes(3, 0)
            if document.detail_typed:
                row = _typed_rows(detail, document.detail_rows())
            else:
                row = _detail_rows(detail, cells, document.detail_rows())
            document.detail_count = row - 3
            if row > 3:
                detail.autofilter(2, 0, row - 1, len(document.detail_header) - 1)
        workbook.close()


def _typed_rows(sheet, rows) -> int:
    """Rows of already-typed values (strings neutralised by the selector, dates as
    dates, numbers as numbers), one ``write_row`` each: xlsxwriter picks the cell type
    from the value and the date columns carry their format. The hot loop: about
    28,000 rows x 16 cells for a leaf unit."""
    write_row = sheet.write_row
    row = 3
    for values in rows:
        write_row(row, 0, values)
        row += 1
    return row


def _detail_rows(sheet, cells: _Cells, rows) -> int:
    """The device-level rows: the hot loop (25,000 rows x 16 cells for a large unit).

    Calls xlsxwriter's undecorated ``_write_string``/``_write_datetime`` (what the
    public ``write_string``/``write_datetime`` run after converting A1 arguments)
    when present, which saves about a third of the time per cell; strings are still
    neutralised first and written as strings, never as formulas.
    """
    write_string = getattr(sheet, "_write_string", sheet.write_string)
    write_datetime = getattr(sheet, "_write_datetime", sheet.write_datetime)
    date_fmt, datetime_fmt = cells.date, cells.datetime
    row = 3
    for values in rows:
        for col, value in enumerate(values):
            kind = type(value)
            if kind is str:
                if value:
                    if value[0] in TRIGGER_CHARS:
                        value = neutralise(value)
                    write_string(row, col, value, None)
            elif value is None:
                continue
            elif kind is dt.date:
                write_datetime(row, col, value, date_fmt)
            elif kind is dt.datetime:
                write_datetime(row, col, value.replace(tzinfo=None), datetime_fmt)
            else:
                cells.write(sheet, row, col, value)
        row += 1
    return row


def _mark(sheet, document: ReportDocument) -> None:
    """The marking at the top and bottom of every printed page."""
    marking = document.marking.replace("&", "&&")
    sheet.set_header(f"&C&B{marking}")
    sheet.set_footer(f"&L{marking}&CPage &P of &N&R{marking}")


def _table(workbook, sheet, cells, table: Table, row: int, bold, head_fmt) -> int:
    start = row
    sheet.write_string(row, 0, neutralise(table.title), bold)
    row += 1
    if table.note:
        sheet.write_string(row, 0, neutralise(table.note))
        row += 1
    header_row = row
    for col, name in enumerate(table.header):
        sheet.write_string(row, col, neutralise(str(name)), head_fmt)
    row += 1
    first_data = row
    for values in table.rows:
        for col, value in enumerate(values):
            cells.write(sheet, row, col, value)
        row += 1
    if not table.rows:
        sheet.write_string(row, 0, "None")
        row += 1
    chart = table.chart
    if chart and table.rows:
        n = len(table.rows) if chart.rows is None else min(chart.rows, len(table.rows))
        last = first_data + n - 1
        excel_chart = workbook.add_chart(
            {"type": chart.kind, "subtype": "stacked" if chart.stacked else None}
            if chart.stacked
            else {"type": chart.kind}
        )
        for i, col in enumerate(chart.value_columns):
            series = {
                "name": [sheet.name, header_row, col],
                "categories": [sheet.name, first_data, 0, last, 0],
                "values": [sheet.name, first_data, col, last, col],
            }
            if chart.colours:
                # One colour per device status, the same as on the pages and in the PDF.
                series["fill"] = {"color": chart.colours[i]}
                series["border"] = {"none": True}
            excel_chart.add_series(series)
        excel_chart.set_title({"name": chart.title})
        excel_chart.set_y_axis({"name": chart.y_title, "num_format": "#,##0"})
        excel_chart.set_legend({"position": "bottom"})
        excel_chart.set_size({"width": 620, "height": CHART_ROWS * 20})
        sheet.insert_chart(start, len(table.header) + 1, excel_chart)
        row = max(row, start + CHART_ROWS + 1)
    return row + 1
