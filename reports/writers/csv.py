"""CSV of the device-level rows through ``core.exports.write_csv``: the marking
line, the period line, the header, then the rows, every cell neutralised."""

from __future__ import annotations

import io

from core.exports import write_csv
from reports.writers.document import ReportDocument


def write(document: ReportDocument, stream) -> None:
    """Write the detail rows (or, with none, the section tables) to the binary ``stream``."""
    # UTF-8 with BOM so Excel reads the £ sign and accented names correctly.
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="", write_through=False)
    try:
        if document.detail_header is not None and document.detail_rows is not None:
            write_csv(
                text,
                header=document.detail_header,
                rows=document.detail_rows(),
                marking=document.marking,
                period=document.period_label,
            )
        else:
            write_csv(
                text,
                header=["Section", *_widest_header(document)],
                rows=([table.title, *row] for table in document.tables for row in table.rows),
                marking=document.marking,
                period=document.period_label,
            )
        text.flush()
    finally:
        # Leave the caller's stream open: detach rather than close the wrapper.
        text.detach()


def _widest_header(document: ReportDocument) -> list[str]:
    """A table-of-tables CSV (finance report): columns named after the widest section."""
    widest = max((t.header for t in document.tables), key=len, default=[])
    return [f"Column {i + 1}" if i else "Row" for i in range(len(widest))]
