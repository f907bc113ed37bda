"""What every file the product writes shares: the classification marking and
formula neutralisation.

Any CSV or XLSX cell whose text begins with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return is prefixed with a single quote so a spreadsheet shows it as
text instead of running it (CSV/formula injection). Numbers stay numbers.
Commercial data (unit prices, contract values) is OFFICIAL-SENSITIVE
[COMMERCIAL]; everything else is OFFICIAL.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from decimal import Decimal

OFFICIAL = "OFFICIAL"
OFFICIAL_SENSITIVE_COMMERCIAL = "OFFICIAL-SENSITIVE [COMMERCIAL]"

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def classification(*, commercial: bool) -> str:
    return OFFICIAL_SENSITIVE_COMMERCIAL if commercial else OFFICIAL


def neutralise(value):
    """Make a cell value safe for a spreadsheet; non-strings pass through unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    return neutralise(str(value)) if isinstance(value, str) else str(value)


def write_csv(
    stream, *, header: list[str], rows: Iterable[Iterable], marking: str, period: str | None = None
) -> None:
    """Write a marked CSV: a marking line (and period line), the header, then rows.

    The marking comes first so it survives whatever a reader does with the rest.
    """
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow([f"Classification: {marking}"])
    if period:
        writer.writerow([f"Period: {period}"])
    writer.writerow([csv_cell(h) for h in header])
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])


def csv_bytes(
    *, header: list[str], rows: Iterable[Iterable], marking: str, period: str | None = None
) -> bytes:
    buffer = io.StringIO()
    write_csv(buffer, header=header, rows=rows, marking=marking, period=period)
    # UTF-8 with BOM so Excel reads the £ sign correctly.
    return buffer.getvalue().encode("utf-8-sig")
