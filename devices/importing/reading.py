"""Reading an import file: format, encoding, delimiter, header, rows.

CSV (or tab/semicolon-separated text) and XLSX. Text files may be UTF-8 with
or without a byte-order mark, UTF-16 with a BOM (Excel's "Unicode text", tab
separated) or Windows-1252, with CR, LF or CRLF line ends. Anything else is a
``FileUnreadable`` naming the problem, raised before any row is used, so a
file that cannot be read never changes the estate.

Rows are streamed (``Table.rows()`` is a generator), so a million-row file is
never held in memory; ``rows()`` may be called more than once (the importer
reads the file twice: once for duplicates and the row count, once to import).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import operator
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from devices.importing.errors import FileUnreadable, ImportRefused
from devices.importing.limits import (
    import_limits,
    rows_within,
    size_check,
    text_line_bound,
    xlsx_check,
)
from devices.importing.mappings import MAPPINGS, STATUS_WHEN_ASSIGNED, resolve_columns
from devices.importing.rows import IDENTITY_COLUMNS, REQUIRED_COLUMNS
from devices.importing.values import CellProblem

__all__ = ["FileUnreadable", "ImportRefused", "Table", "check_limits", "open_table"]

SAMPLE_BYTES = 1 << 20
DELIMITERS = (",", "\t", ";")
DELIMITER_NAMES = {",": "comma", "\t": "tab", ";": "semicolon"}
# Bytes Windows-1252 leaves undefined: their presence means it is not cp1252.
_CP1252_UNDEFINED = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")
IDENTIFIER_COLUMNS = ("serial_number", "asset_tag")
DATE_COLUMNS = ("purchase_date", "warranty_expires", "last_seen")
MONEY_COLUMNS = ("purchase_cost",)

csv.field_size_limit(1 << 20)


@dataclass
class Table:
    """An opened import file: its columns and a way to stream its rows."""

    path: Path
    format: str  # "csv" or "xlsx"
    mapping: str
    headers: list[str]
    positions: dict[str, int]
    encoding: str = ""
    delimiter: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        return list(self.positions)

    def describe(self) -> str:
        if self.format == "xlsx":
            return "XLSX workbook (first sheet)"
        return (
            f"{self.encoding} text, {DELIMITER_NAMES.get(self.delimiter, self.delimiter)}-separated"
        )

    def rows(self) -> Iterator[tuple[int, dict]]:
        """``(row number, {column: raw value})`` for every non-blank data row.
        Row numbers are as a user counts them in the file: the header is row 1."""
        positions = list(self.positions.items())
        rows = self._xlsx_rows(positions) if self.format == "xlsx" else self._csv_rows(positions)
        status = STATUS_WHEN_ASSIGNED.get(self.mapping)
        if status is None:
            yield from rows
            return
        for number, row in rows:
            # The tool's meaning of a holder without a status (Snipe-IT: checked out
            # to someone is deployed).
            if not _blank(row.get("assigned_to")) and _blank(row.get("status")):
                row["status"] = status
            yield number, row

    def cells(self, columns: tuple[str, ...]) -> Iterator[tuple]:
        """The raw values of ``columns``, in that order, for every non-blank
        data row, as tuples (None for a column the file lacks): the duplicate
        pass reads the whole file for three columns, and a tuple per row is
        cheaper to make than a dict."""
        present = [column for column in columns if column in self.positions]
        if self.format == "xlsx":
            for _number, row in self._xlsx_rows([(c, self.positions[c]) for c in present]):
                yield tuple(row.get(column) for column in columns)
            return
        positions = [(column, self.positions[column]) for column in present]
        missing = [i for i, column in enumerate(columns) if column not in self.positions]
        for _number, values in self._csv_rows(positions, as_tuples=True):
            if missing:
                values = list(values)
                for i in missing:
                    values.insert(i, None)
                values = tuple(values)
            yield values

    # ------------------------------------------------------------------ CSV

    def _text_stream(self):
        raw = open(self.path, "rb")  # noqa: SIM115 - closed by the caller's generator
        return io.TextIOWrapper(raw, encoding=self.encoding, newline="", errors="strict")

    def _csv_rows(self, positions, *, as_tuples: bool = False):
        width = max(self.positions.values()) + 1
        columns = tuple(column for column, _ in positions)
        pick = operator.itemgetter(*(i for _, i in positions))
        if len(positions) == 1:
            single = pick
            pick = lambda cells: (single(cells),)  # noqa: E731 - itemgetter of one index
        with self._text_stream() as stream:
            reader = csv.reader(stream, delimiter=self.delimiter)
            number = 0
            header_seen = False
            try:
                for cells in reader:
                    number += 1
                    if not header_seen:
                        # The header is the first non-blank line, as when it was detected.
                        header_seen = any(c.strip() for c in cells)
                        continue
                    if len(cells) < width:
                        if not cells or not any(c.strip() for c in cells):
                            continue
                        cells = cells + [""] * (width - len(cells))
                    elif not cells[0].strip() and not any(c.strip() for c in cells):
                        continue
                    if as_tuples:
                        yield number, pick(cells)
                    else:
                        yield number, dict(zip(columns, pick(cells), strict=True))
            except UnicodeDecodeError as error:
                raise FileUnreadable(
                    f"Row {number + 1} is not valid {self.encoding} text "
                    f"(byte {error.object[error.start : error.start + 1]!r}); "
                    "save the file as UTF-8 and import it again."
                ) from None
            except csv.Error as error:
                raise FileUnreadable(f"Row {number + 1} cannot be read as CSV: {error}.") from None

    # ------------------------------------------------------------------ XLSX

    def _xlsx_rows(self, positions):
        workbook = _open_workbook(self.path)
        try:
            sheet = workbook.worksheets[0]
            epoch = workbook.epoch
            number = 0
            for cells in sheet.iter_rows():
                number += 1
                if number == 1:
                    continue
                if not cells or all(_blank(c.value) for c in cells):
                    continue
                row = {}
                for column, i in positions:
                    cell = cells[i] if i < len(cells) else None
                    row[column] = _xlsx_value(cell, column, epoch)
                yield number, row
        finally:
            workbook.close()


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


_ZERO_PADDED = re.compile(r"^0{2,}$")
_SCIENTIFIC_FORMAT = re.compile(r"E[+-]", re.IGNORECASE)


def _xlsx_value(cell, column: str, epoch):
    """A cell's value as the import's parsers expect it.

    Dates: a date-formatted cell arrives as a datetime (openpyxl reads the
    format); a bare number in a date column is an Excel serial date and is
    converted here explicitly with the workbook's epoch (1900 or 1904).
    Serials/asset tags stored as numbers are refused when Excel has already
    lost information: scientific notation, more than 15 significant digits,
    a fraction, or leading zeros that exist only in the cell's display format.
    """
    if cell is None:
        return ""
    value = cell.value
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        if isinstance(value, dt.time):
            return CellProblem("is a time of day, not a date", value.isoformat())
        return value
    if isinstance(value, int | float):
        fmt = (getattr(cell, "number_format", "") or "General").strip()
        if column in IDENTIFIER_COLUMNS:
            shown = _shown_number(value)
            if (
                _SCIENTIFIC_FORMAT.search(fmt)
                or abs(value) >= 1e15
                or not float(value).is_integer()
            ):
                return CellProblem(
                    f"looks like Excel scientific notation ({shown}): the cell is a number, "
                    "so Excel has lost the real digits; format the column as text and "
                    "re-enter or re-export it",
                    shown,
                )
            if _ZERO_PADDED.match(fmt):
                return CellProblem(
                    f"is stored as the number {int(value)} shown with leading zeros by the "
                    f"cell format ({fmt}); the zeros are not in the data, so format the "
                    "column as text",
                    str(int(value)),
                )
            return str(int(value))
        if column in DATE_COLUMNS:
            from openpyxl.utils.datetime import from_excel

            if 0 < value < 2958466:  # Excel's date range (to 9999-12-31)
                converted = from_excel(value, epoch=epoch)
                return converted if column == "last_seen" else converted.date()
            return CellProblem(f"{value} is not an Excel date", str(value))
        if column in MONEY_COLUMNS:
            return value
        return _shown_number(value)
    return str(value)


def _shown_number(value) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, float) and abs(value) >= 1e15:
        return f"{value:.5E}".replace("E+", "E+")
    return str(value)


def _open_workbook(path: Path):
    import zipfile

    from openpyxl import load_workbook

    try:
        # read_only streams rows instead of building the whole sheet (the
        # default mode costs ~270 MB per 50,000 rows); data_only reads cached
        # formula results, never formulas.
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise FileUnreadable(
            f"The file looks like an XLSX workbook but cannot be opened ({error})."
        ) from None
    if not workbook.worksheets:
        workbook.close()
        raise FileUnreadable("The workbook has no sheets.")
    return workbook


# ---------------------------------------------------------------------- opening


def open_table(path, *, mapping: str = "default") -> Table:
    """Work out the format, encoding, delimiter and columns of an import file.

    Raises ``FileUnreadable`` for an empty file, an unknown encoding, an
    undetectable delimiter, or a missing required column.
    """
    path = Path(path)
    if mapping not in MAPPINGS:
        raise FileUnreadable(
            f"There is no column mapping called {mapping!r}; use one of {', '.join(MAPPINGS)}."
        )
    size_check(path.stat().st_size)
    with open(path, "rb") as handle:
        head = handle.read(SAMPLE_BYTES)
        if head.startswith(b"PK\x03\x04"):
            # Sizes and XML declarations, before openpyxl opens anything.
            xlsx_check(handle)
    if not head.strip():
        raise FileUnreadable("The file is empty.")
    if head.startswith(b"PK\x03\x04"):
        return _open_xlsx(path, mapping)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileUnreadable(
            "This is an old Excel 97-2003 (.xls) workbook; save it as .xlsx or CSV."
        )
    encoding = _detect_encoding(head)
    text = head.decode(encoding, errors="ignore") if encoding != "utf-16" else _utf16(head)
    text = text.lstrip("\ufeff")
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), "")
    if not first:
        raise FileUnreadable("The file is empty.")
    delimiter, headers = _detect_delimiter(first, mapping)
    table = Table(
        path=path,
        format="csv",
        mapping=mapping,
        headers=headers,
        positions={},
        encoding=encoding,
        delimiter=delimiter,
    )
    return _finish(table)


def _utf16(head: bytes) -> str:
    # The sample may end mid-character; drop the odd byte.
    return head[: len(head) - (len(head) % 2)].decode("utf-16", errors="ignore")


def _detect_encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in head:
        raise FileUnreadable(
            "The file contains NUL bytes but no UTF-16 byte-order mark, so its encoding "
            "cannot be told: save it as UTF-8 CSV (or Excel 'Unicode text')."
        )
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as error:
        if len(head) - error.start < 4 and error.reason == "unexpected end of data":
            return "utf-8"  # the sample cut a character in half
    if _CP1252_UNDEFINED.search(head):
        raise FileUnreadable(
            "The file is neither UTF-8 nor Windows-1252 text; save it as UTF-8 CSV."
        )
    return "cp1252"


def _detect_delimiter(first_line: str, mapping: str) -> tuple[str, list[str]]:
    """The delimiter whose split of the header finds the most known columns."""
    best = None
    for delimiter in DELIMITERS:
        headers = next(csv.reader([first_line], delimiter=delimiter))
        positions, _, _ = resolve_columns(headers, mapping)
        score = (len(positions), len(headers))
        if best is None or score > best[0]:
            best = (score, delimiter, headers)
    (known, width), delimiter, headers = best
    if width < 2 or known == 0:
        raise FileUnreadable(
            "Could not find the columns: the first line should be a header such as "
            f"serial_number, {', '.join(REQUIRED_COLUMNS)} separated by commas, tabs or "
            "semicolons."
        )
    return delimiter, headers


def _open_xlsx(path: Path, mapping: str) -> Table:
    workbook = _open_workbook(path)
    try:
        sheet = workbook.worksheets[0]
        header_cells = next(sheet.iter_rows(max_row=1, values_only=True), None)
    finally:
        workbook.close()
    if not header_cells or all(_blank(c) for c in header_cells):
        raise FileUnreadable("The first sheet is empty (no header row).")
    headers = ["" if c is None else str(c) for c in header_cells]
    return _finish(Table(path=path, format="xlsx", mapping=mapping, headers=headers, positions={}))


def _finish(table: Table) -> Table:
    positions, unknown, shadowed = resolve_columns(table.headers, table.mapping)
    missing = [c for c in REQUIRED_COLUMNS if c not in positions]
    if not any(c in positions for c in IDENTITY_COLUMNS):
        missing.insert(0, " or ".join(IDENTITY_COLUMNS))
    if missing:
        found = ", ".join(h.strip() for h in table.headers if h.strip()) or "none"
        required = ", ".join([" or ".join(IDENTITY_COLUMNS), *REQUIRED_COLUMNS])
        raise FileUnreadable(
            f"The file has no {', '.join(missing)} column"
            f"{'s' if len(missing) > 1 else ''} (required: {required}; found: {found})."
        )
    table.positions = positions
    if unknown:
        table.warnings.append(
            f"Columns not imported (unknown to the {table.mapping} mapping): {', '.join(unknown)}."
        )
    if shadowed:
        table.warnings.append(
            f"Columns not imported because another column already provides the value: "
            f"{', '.join(shadowed)}."
        )
    # A header with no data rows is an empty file too.
    rows = table.rows()
    try:
        if next(rows, None) is None:
            raise FileUnreadable("The file has a header row but no data rows.")
    finally:
        rows.close()
    return table


def check_limits(path, *, mapping: str = "default") -> None:
    """Refuse (``ImportRefused``) a file past the import's limits before it is parsed:
    its size, an XLSX's expanded size and XML declarations, and its rows.

    Rows are bounded cheaply first (``devices.importing.limits``); only a file whose
    bound is past the limit is read row by row, and then only up to the limit. Any
    other problem with the file is left for the import to report as it always has.
    """
    path = Path(path)
    size_check(path.stat().st_size)
    limit = import_limits().rows
    with open(path, "rb") as handle:
        xlsx = handle.read(4) == b"PK\x03\x04"
        bound = xlsx_check(handle) if xlsx else text_line_bound(handle)
    if bound is not None and bound - 1 <= limit:
        return
    try:
        table = open_table(path, mapping=mapping)
    except ImportRefused:
        raise
    except FileUnreadable:
        return
    for _row in rows_within(table.cells(tuple(table.columns[:1])), limit):
        pass
