"""What a report says, independent of its format.

A document is a marking, a title, a period, headline figures, section tables
(each optionally charted) and, for the stewardship report, the device-level rows
as a callable returning a fresh iterator, so each writer streams them without
holding them in memory.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


@dataclass
class Chart:
    """A chart drawn from a table: the first column gives the categories and
    ``value_columns`` the series; ``rows`` limits it to the first n rows (to leave
    out a totals row)."""

    title: str
    value_columns: list[int]
    kind: str = "column"  # column | bar
    stacked: bool = False
    rows: int | None = None
    y_title: str = "Devices"
    # One fill per series (e.g. each device status's colour, devices.status_colours);
    # None: the writers' palette.
    colours: list[str] | None = None


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list]
    note: str = ""
    chart: Chart | None = None
    # The PDF is a printable summary: long lists are cut there (the XLSX has them whole).
    pdf_limit: int | None = 10
    in_pdf: bool = True


@dataclass
class ReportDocument:
    title: str
    subject: str
    marking: str
    period_label: str
    generated_at: dt.datetime
    # What moment the figures describe ("Figures as at 23:59 on 31 October 2026").
    as_at: str = ""
    # Headline figures shown before the tables (the finance report; the stewardship
    # report opens with its trend table instead, which carries them).
    headline: list[tuple[str, object]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    # Notes for the reader and facts about the run, at the end ("About this report").
    notes: list[str] = field(default_factory=list)
    about: list[tuple[str, str]] = field(default_factory=list)
    detail_title: str = "Devices"
    detail_header: list[str] | None = None
    detail_rows: Callable[[], Iterable[list]] | None = None
    # Rows already typed and neutralised (the stewardship device rows): the XLSX writer
    # then writes each with one write_row call, dates formatted by their columns.
    detail_typed: bool = False
    detail_date_columns: tuple[int, ...] = ()
    detail_datetime_columns: tuple[int, ...] = ()
    # A line above the device rows saying what they cover (the device-rows rule).
    detail_note: str = ""
    # Further sheets of tables (XLSX only), e.g. the per-sub-unit summary.
    sheets: list[tuple[str, list[Table]]] = field(default_factory=list)
    # Filled in by the XLSX writer (it is the one that streams the rows first).
    detail_count: int = 0

    def chart_data(self, table: Table) -> tuple[list[str], list[tuple[str, list[float]]]]:
        """Categories and series for a table's chart, as plain values (PDF, tests)."""
        chart = table.chart
        rows = table.rows[: chart.rows] if chart and chart.rows is not None else table.rows
        categories = [str(r[0]) for r in rows]
        series = [
            (str(table.header[c]), [float(r[c] or 0) for r in rows])
            for c in (chart.value_columns if chart else [])
        ]
        return categories, series
