"""The envelope's exports (XLSX and CSV): OFFICIAL-SENSITIVE [COMMERCIAL], marked in
a header row (and in the printed sheet's header and footer); text cells neutralised
(core.exports.neutralise) so nothing in them runs as a formula.

Both carry the headroom of ``procurement.selectors.headroom`` with each of its terms,
per budget line and per year, and the demand the envelope does not fund, apart.
"""

from __future__ import annotations

import csv
import io

import xlsxwriter

from core.exports import OFFICIAL_SENSITIVE_COMMERCIAL, neutralise

COLUMNS = [
    ("Financial year", "financial_year"),
    ("Category", "category_label"),
    ("Signal", "signal_label"),
    ("Budget (£)", "budget"),
    ("Committed (£)", "committed"),
    ("Received (£)", "received"),
    ("Forecast demand (devices)", "forecast_volume"),
    ("Forecast demand cost (£)", "forecast_cost"),
    ("Ordered (devices)", "ordered_volume"),
    ("Demand not yet ordered (devices)", "outstanding_volume"),
    ("Demand not yet ordered (£)", "outstanding_cost"),
    ("Headroom (£)", "headroom"),
    ("Plan volume (devices)", "plan_volume"),
    ("Received (devices)", "received_volume"),
]
YEAR_COLUMNS = [
    ("Financial year", "financial_year"),
    ("Signal", "signal_label"),
    ("Budget (£)", "budget"),
    ("Committed (£)", "committed"),
    ("Received (£)", "received"),
    ("Forecast demand cost (£)", "forecast_cost"),
    ("Demand not yet ordered (£)", "outstanding_cost"),
    ("Headroom (£)", "headroom"),
]
UNFUNDED_COLUMNS = [
    ("Financial year", "financial_year"),
    ("Category", "category_label"),
    ("Forecast demand (devices)", "forecast_volume"),
    ("Forecast demand cost (£), not counted", "forecast_cost"),
]
HEADROOM_RULE = (
    "Headroom = budget − committed − forecast cost of demand not yet ordered "
    "(received is part of committed)."
)


def _is_count(key: str) -> bool:
    return key.endswith("volume")


def _preamble(position: dict, as_of_label: str) -> list[tuple[str, object]]:
    envelope = position.get("envelope") or {}
    funded = ", ".join(position.get("funded_categories") or [])
    return [
        ("Envelope", envelope.get("name", "")),
        ("Decision", envelope.get("decision_reference", "")),
        ("Envelope total (£)", position["total"]),
        ("Envelope headroom (£)", position["headroom"]),
        ("Funds", funded),
        ("Position as of", as_of_label),
        ("Rule", HEADROOM_RULE),
    ]


def envelope_position_xlsx(position: dict, *, as_of_label: str) -> bytes:
    marking = OFFICIAL_SENSITIVE_COMMERCIAL
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("Envelope position")
    bold = book.add_format({"bold": True})
    money_format = book.add_format({"num_format": "#,##0.00"})
    count_format = book.add_format({"num_format": "#,##0"})
    marking_format = book.add_format({"bold": True, "font_color": "#d4351c"})
    # Printed pages carry the marking too (header and footer).
    sheet.set_header(f"&C{marking}")
    sheet.set_footer(f"&C{marking}&RPage &P of &N")
    sheet.write(0, 0, f"Classification: {marking}", marking_format)
    row_index = 1
    for label, value in _preamble(position, as_of_label):
        sheet.write_string(row_index, 0, label, bold)
        _write(sheet, row_index, 2, value, money_format, count_format, money=True)
        row_index += 1

    def table(title: str, columns, records, start: int) -> int:
        sheet.write_string(start, 0, title, bold)
        start += 1
        for col, (heading, _key) in enumerate(columns):
            sheet.write_string(start, col, heading, bold)
        for record in records:
            start += 1
            for col, (_heading, key) in enumerate(columns):
                _write(
                    sheet,
                    start,
                    col,
                    record.get(key),
                    money_format,
                    count_format,
                    money=not _is_count(key),
                )
        return start + 2

    header_row = row_index + 1
    row_index = table("By budget line", COLUMNS, position["rows"], header_row)
    row_index = table("By financial year", YEAR_COLUMNS, position["years"], row_index)
    if position.get("unfunded"):
        table(
            "Demand outside the envelope's scope (not counted)",
            UNFUNDED_COLUMNS,
            position["unfunded"],
            row_index,
        )
    sheet.set_column(0, 1, 18)
    sheet.set_column(2, len(COLUMNS) - 1, 20)
    sheet.freeze_panes(header_row + 2, 0)
    book.close()
    return buffer.getvalue()


def _write(sheet, row, col, value, money_format, count_format, *, money: bool) -> None:
    if value is None:
        sheet.write_blank(row, col, None)
    elif isinstance(value, str):
        sheet.write_string(row, col, neutralise(value))
    elif isinstance(value, bool):
        sheet.write_boolean(row, col, value)
    elif money:
        # xlsxwriter stores numbers as IEEE doubles; pennies up to £90 trillion
        # survive the round trip exactly, so this is not a money rounding.
        sheet.write_number(row, col, float(value), money_format)
    else:
        sheet.write_number(row, col, int(value), count_format)


def envelope_position_csv(position: dict, *, as_of_label: str) -> str:
    """The same figures as CSV: the marking first, then the position per line, per
    year and the unfunded demand, each under its own heading row."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([f"Classification: {OFFICIAL_SENSITIVE_COMMERCIAL}"])
    for label, value in _preamble(position, as_of_label):
        writer.writerow([label, _cell(value)])
    for title, columns, records in (
        ("By budget line", COLUMNS, position["rows"]),
        ("By financial year", YEAR_COLUMNS, position["years"]),
        (
            "Demand outside the envelope's scope (not counted)",
            UNFUNDED_COLUMNS,
            position.get("unfunded") or [],
        ),
    ):
        writer.writerow([])
        writer.writerow([title])
        writer.writerow([heading for heading, _key in columns])
        for record in records:
            writer.writerow([_cell(record.get(key)) for _heading, key in columns])
    return out.getvalue()


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralise(value)
    return str(value)
