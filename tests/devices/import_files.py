"""Builders for the importer's test corpus: every file is made by the test, in
a tmp dir, so the corpus documents exactly what each rule is checked against."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

HEADER = [
    "serial_number",
    "manufacturer",
    "model",
    "category",
    "business_unit",
    "asset_tag",
    "assigned_to",
    "status",
    "purchase_date",
    "warranty_expires",
    "purchase_cost",
    "location",
    "last_seen",
    "os_version",
]


def device_row(**overrides) -> dict:
    """A valid row for unit CE (create it with BusinessUnitFactory(code="CE"))."""
    row = {
        "serial_number": "SN-0001",
        "manufacturer": "Dell",
        "model": "Latitude 5440",
        "category": "laptop",
        "business_unit": "CE",
        "asset_tag": "",
        "assigned_to": "",
        "status": "in_stock",
        "purchase_date": "2024-01-13",
        "warranty_expires": "13/01/2027",
        "purchase_cost": "£1,234.56",
        "location": "Lambeth HQ",
        "last_seen": "",
        "os_version": "Windows 11",
    }
    row.update(overrides)
    return row


def _quote(cell: str, delimiter: str) -> str:
    text = str(cell)
    if any(ch in text for ch in (delimiter, '"', "\n", "\r")):
        return '"' + text.replace('"', '""') + '"'
    return text


def text_file(
    path: Path,
    rows: list[dict],
    *,
    header: list[str] | None = None,
    encoding: str = "utf-8",
    delimiter: str = ",",
    newline: str = "\r\n",
) -> Path:
    """A delimited text file; ``encoding`` as Python names it ("utf-8-sig",
    "utf-16" writes a BOM, "cp1252")."""
    header = header or list(rows[0].keys() if rows else HEADER)
    lines = [delimiter.join(_quote(h, delimiter) for h in header)]
    for row in rows:
        lines.append(delimiter.join(_quote(row.get(h, ""), delimiter) for h in header))
    path.write_bytes((newline.join(lines) + newline).encode(encoding))
    return path


def xlsx_file(path: Path, rows: list[list], *, header: list[str], formats: dict | None = None):
    """An XLSX workbook with typed cells (dates, numbers) as Excel would store them.

    ``formats`` maps a column name to a number format applied to its cells
    (e.g. ``"00000000"`` or ``"0.00E+00"``).
    """
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for values in rows:
        sheet.append(values)
    for column, number_format in (formats or {}).items():
        index = header.index(column) + 1
        for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
            cell.number_format = number_format
    workbook.save(path)
    return path


EXCEL_DATE = dt.datetime(2024, 1, 13)
