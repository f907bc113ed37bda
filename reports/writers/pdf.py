"""A printable PDF summary (reportlab): a few pages a unit lead can read on paper.

The marking is drawn in the header and footer of every page. The report opens with
its headline figures (for the stewardship report, the trend table that carries them)
and ends with "About this report" (notes on the device rows, the period, when it was
generated). Charted sections get a reportlab bar chart below their table, one colour
per device status (devices.status_colours); long lists are cut to their first rows
with a pointer to the XLSX, which has them whole.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from xml.sax.saxutils import escape

from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import (
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from reports.writers.document import ReportDocument
from reports.writers.document import Table as ReportTable

PALETTE = [
    colors.HexColor("#1d70b8"),
    colors.HexColor("#f47738"),
    colors.HexColor("#00703c"),
    colors.HexColor("#912b88"),
    colors.HexColor("#505a5f"),
    colors.HexColor("#d4351c"),
    colors.HexColor("#28a197"),
]


def _text(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float | Decimal):
        return f"{value:,.2f}"
    if isinstance(value, dt.date):
        return f"{value:%-d %B %Y}"
    return escape(str(value))


def write(document: ReportDocument, stream) -> None:
    """Write ``document`` as a PDF to the open binary ``stream``."""
    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=8, leading=10)
    cell = styles["BodyText"].clone("cell", fontSize=8, leading=9.5)

    def on_page(canvas, doc):
        # The marking at the top and bottom of every page, as the classification scheme asks.
        canvas.saveState()
        canvas.setFont("Helvetica-Bold", 10)
        canvas.setFillColor(colors.HexColor("#d4351c"))
        canvas.drawCentredString(A4[0] / 2, A4[1] - 12 * mm, document.marking)
        canvas.drawCentredString(A4[0] / 2, 10 * mm, document.marking)
        canvas.setFont("Helvetica", 8)
        canvas.setFillColor(colors.black)
        canvas.drawString(15 * mm, 10 * mm, f"Period: {document.period_label}")
        canvas.drawRightString(A4[0] - 15 * mm, 10 * mm, f"Page {doc.page}")
        canvas.restoreState()

    pdf = SimpleDocTemplate(
        stream,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=20 * mm,
        bottomMargin=18 * mm,
        title=f"{document.title}: {document.subject}",
        subject=f"{document.marking}; period {document.period_label}",
        author="Device refresh tracker",
    )
    story = [
        Paragraph(escape(document.title), styles["Title"]),
        Paragraph(escape(document.subject), styles["Heading2"]),
        Paragraph(
            f"{escape(document.period_label)}."
            + (f" {escape(document.as_at)}." if document.as_at else "")
            + f" Classification: <b>{escape(document.marking)}</b>.",
            styles["BodyText"],
        ),
        Spacer(1, 4 * mm),
    ]
    if document.headline:
        story.append(Paragraph("Headline figures", styles["Heading3"]))
        story.append(
            _grid(
                [["Figure", "Value"], *[[k, v] for k, v in document.headline]],
                cell,
                [120 * mm, 40 * mm],
            )
        )
    for table in document.tables:
        if not table.in_pdf:
            continue
        story.extend(_section(document, table, styles, cell, small))
    # What the reader needs to know about the run and the files comes last.
    if document.notes or document.about:
        story.append(Paragraph("About this report", styles["Heading3"]))
        for note in document.notes:
            story.append(Paragraph(escape(note), small))
        if document.about:
            story.append(Spacer(1, 2 * mm))
            story.append(_grid([[k, v] for k, v in document.about], cell, [45 * mm, 120 * mm]))
    pdf.build(story, onFirstPage=on_page, onLaterPages=on_page)


def _section(document, table: ReportTable, styles, cell, small) -> list:
    parts = [Paragraph(escape(table.title), styles["Heading3"])]
    if table.note:
        parts.append(Paragraph(escape(table.note), small))
    rows = table.rows
    shown = rows if table.pdf_limit is None else rows[: table.pdf_limit]
    if rows:
        parts.append(_grid([table.header, *shown], cell, numeric_from=1))
        if len(shown) < len(rows):
            parts.append(
                Paragraph(
                    f"Showing {len(shown):,} of {len(rows):,} rows; the XLSX file lists them all.",
                    small,
                )
            )
    else:
        parts.append(Paragraph("None.", small))
    if table.chart and rows:
        parts.append(Spacer(1, 2 * mm))
        parts.append(_chart(document, table))
    parts.append(Spacer(1, 3 * mm))
    return [KeepTogether(parts[:3]), *parts[3:]]


def _grid(rows: list[list], cell, widths=None, numeric_from: int | None = None) -> Table:
    """A table of paragraphs (so long text wraps at word boundaries, never mid-word);
    numbers right-aligned with thousands separators."""
    right = cell.clone("cell-right", alignment=TA_RIGHT)

    def style(r: int, i: int, value):
        numeric = value is None or isinstance(value, int | float | Decimal)
        return (
            right if numeric_from is not None and r > 0 and i >= numeric_from and numeric else cell
        )

    data = [
        [Paragraph(_text(v), style(r, i, v)) for i, v in enumerate(row)]
        for r, row in enumerate(rows)
    ]
    grid = Table(data, colWidths=widths, repeatRows=1, hAlign="LEFT")
    grid.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f3f2f1")),
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
                ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.HexColor("#b1b4b6")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return grid


def _count(value) -> str:
    return f"{value:,.0f}"


def _chart(document: ReportDocument, table: ReportTable) -> Drawing:
    """A bar chart sized to hold its axis labels and, below the plot, its legend (in
    columns, wrapping as needed), so nothing is cut off at the drawing's edge."""
    categories, series = document.chart_data(table)
    spec = table.chart
    font = 7
    width = 180 * mm
    fills = [
        colors.HexColor(spec.colours[i]) if spec.colours else PALETTE[i % len(PALETTE)]
        for i in range(len(series))
    ]
    names = [name for name, _ in series]
    # Legend: as many columns as fit the width, each as wide as the longest name.
    swatch = font
    row_height = font + 5
    column = swatch + 2 * mm + max((stringWidth(n, "Helvetica", font) for n in names), default=0)
    column += 4 * mm
    per_row = max(1, min(len(names), int(width // column)))
    legend_rows = -(-len(names) // per_row) if names else 0
    legend_height = legend_rows * row_height + 2
    horizontal = spec.kind == "bar"
    label_width = max((stringWidth(c, "Helvetica", font) for c in categories), default=0)
    value_top = max((max(v) for _, v in series if v), default=0)
    value_width = stringWidth(_count(value_top), "Helvetica", font)
    if horizontal:
        plot_height = max(30 * mm, len(categories) * len(series) * 3.2 * mm)
        left = label_width + 4 * mm
        bottom = legend_height + 8 * mm
    else:
        plot_height = 45 * mm
        left = value_width + 6 * mm
        bottom = legend_height + 10 * mm
    title_height = 8 * mm
    height = bottom + plot_height + title_height
    drawing = Drawing(width, height)
    chart = HorizontalBarChart() if horizontal else VerticalBarChart()
    chart.x, chart.y = left, bottom
    chart.width = width - left - (value_width + 4 * mm if horizontal else 2 * mm)
    chart.height = plot_height
    chart.data = [values for _, values in series] or [[0]]
    chart.categoryAxis.categoryNames = categories
    chart.categoryAxis.labels.fontSize = font
    chart.valueAxis.labels.fontSize = font
    chart.valueAxis.labelTextFormat = _count
    chart.valueAxis.valueMin = 0
    if value_top == 0:
        chart.valueAxis.valueMax = 1
    if spec.stacked:
        chart.categoryAxis.style = "stacked"
    for i in range(len(series)):
        chart.bars[i].fillColor = fills[i]
        chart.bars[i].strokeColor = None
    drawing.add(chart)
    drawing.add(String(0, height - 5 * mm, spec.title, fontName="Helvetica-Bold", fontSize=9))
    if names:
        legend = Legend()
        legend.x, legend.y = 0, legend_height
        legend.fontSize = font
        legend.alignment = "right"
        legend.boxAnchor = "nw"
        legend.columnMaximum = legend_rows
        legend.deltax = column
        legend.deltay = row_height
        legend.dx, legend.dy = swatch, swatch
        legend.colorNamePairs = list(zip(fills, names, strict=True))
        drawing.add(legend)
    return drawing
