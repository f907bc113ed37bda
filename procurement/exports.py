"""The finance dashboard's XLSX export: OFFICIAL-SENSITIVE [COMMERCIAL], marked in
a header row and in the printed sheet's header and footer; text cells neutralised
(core.exports.neutralise) so nothing in them runs as a formula."""

from __future__ import annotations

import io

import xlsxwriter

from core.exports import OFFICIAL_SENSITIVE_COMMERCIAL, neutralise

COLUMNS = [
    ("Financial year", "financial_year"),
    ("Category", "category_label"),
    ("Budget (£)", "budget"),
    ("Committed (£)", "committed"),
    ("Received (£)", "received"),
    ("Forecast demand cost (£)", "forecast"),
    ("Headroom (£)", "headroom"),
    ("Ordered (devices)", "ordered_volume"),
    ("Received (devices)", "received_volume"),
]


def envelope_position_xlsx(position: dict, *, as_of_label: str) -> bytes:
    marking = OFFICIAL_SENSITIVE_COMMERCIAL
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("Envelope position")
    bold = book.add_format({"bold": True})
    money = book.add_format({"num_format": "#,##0.00"})
    marking_format = book.add_format({"bold": True, "font_color": "#d4351c"})
    # Printed pages carry the marking too (header and footer).
    sheet.set_header(f"&C{marking}")
    sheet.set_footer(f"&C{marking}&RPage &P of &N")
    sheet.write(0, 0, f"Classification: {marking}", marking_format)
    envelope = position.get("envelope") or {}
    sheet.write(1, 0, neutralise(f"Envelope: {envelope.get('name', '')}"))
    sheet.write(1, 3, neutralise(f"Decision: {envelope.get('decision_reference', '')}"))
    sheet.write(2, 0, "Envelope total (£)")
    sheet.write_number(2, 2, float(position["total"]), money)
    sheet.write(3, 0, neutralise(f"Position as of {as_of_label}"))
    header_row = 5
    for col, (title, _key) in enumerate(COLUMNS):
        sheet.write(header_row, col, title, bold)
    row_index = header_row
    for row in position["rows"]:
        row_index += 1
        for col, (_title, key) in enumerate(COLUMNS):
            value = row.get(key)
            if isinstance(value, str):
                sheet.write_string(row_index, col, neutralise(value))
            elif key.endswith("volume"):
                sheet.write_number(row_index, col, int(value))
            else:
                # xlsxwriter stores numbers as IEEE doubles; pennies up to £90 trillion
                # survive the round trip exactly, so this is not a money rounding.
                sheet.write_number(row_index, col, float(value), money)
    sheet.set_column(0, 1, 16)
    sheet.set_column(2, 8, 20)
    sheet.freeze_panes(header_row + 1, 0)
    book.close()
    return buffer.getvalue()
