"""A printable PDF summary (reportlab): a few pages a unit lead can read on paper.

The marking is drawn in the header and footer of every page; charted sections
get a reportlab bar chart beside their table; long lists are cut to their first
rows with a pointer to the XLSX, which has them whole.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
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
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
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
            f"Period: {escape(document.period_label)}. Generated "
            f"{document.generated_at:%-d %B %Y %H:%M} UTC. Classification: "
            f"<b>{escape(document.marking)}</b>.",
            styles["BodyText"],
        ),
        Spacer(1, 4 * mm),
    ]
    if document.headline and document.headline_in_pdf:
        story.append(Paragraph("Headline figures", styles["Heading3"]))
        story.append(
            _grid(
                [["Figure", "Value"], *[[k, v] for k, v in document.headline]],
                cell,
                [120 * mm, 40 * mm],
            )
        )
    for note in document.notes:
        story.append(Paragraph(escape(note), small))
    for table in document.tables:
        if not table.in_pdf:
            continue
        story.extend(_section(document, table, styles, cell, small))
    pdf.build(story, onFirstPage=on_page, onLaterPages=on_page)


def _section(document, table: ReportTable, styles, cell, small) -> list:
    parts = [Paragraph(escape(table.title), styles["Heading3"])]
    if table.note:
        parts.append(Paragraph(escape(table.note), small))
    rows = table.rows
    shown = rows if table.pdf_limit is None else rows[: table.pdf_limit]
    if rows:
        parts.append(_grid([table.header, *shown], cell))
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


def _grid(rows: list[list], cell, widths=None) -> Table:
    data = [[Paragraph(_text(v), cell) for v in row] for row in rows]
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


def _chart(document: ReportDocument, table: ReportTable) -> Drawing:
    categories, series = document.chart_data(table)
    spec = table.chart
    width, height = 170 * mm, 50 * mm
    drawing = Drawing(width, height)
    chart = HorizontalBarChart() if spec.kind == "bar" else VerticalBarChart()
    chart.x, chart.y = 12 * mm, 12 * mm
    chart.width, chart.height = width - 55 * mm, height - 22 * mm
    chart.data = [values for _, values in series] or [[0]]
    chart.categoryAxis.categoryNames = categories
    chart.categoryAxis.labels.fontSize = 7
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.valueMin = 0
    if spec.stacked:
        chart.categoryAxis.style = "stacked"
    for i in range(len(series)):
        chart.bars[i].fillColor = PALETTE[i % len(PALETTE)]
        chart.bars[i].strokeColor = None
    drawing.add(chart)
    drawing.add(String(12 * mm, height - 7 * mm, spec.title, fontName="Helvetica-Bold", fontSize=9))
    legend = Legend()
    legend.x, legend.y = width - 40 * mm, height - 14 * mm
    legend.fontSize = 7
    legend.alignment = "right"
    legend.colorNamePairs = [
        (PALETTE[i % len(PALETTE)], name) for i, (name, _) in enumerate(series)
    ]
    drawing.add(legend)
    return drawing
