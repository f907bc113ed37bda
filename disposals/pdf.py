"""Chain-of-custody certificates as PDF (reportlab), per device or per consignment.

Each page carries the classification marking at the top and the bottom: OFFICIAL,
or OFFICIAL-SENSITIVE [COMMERCIAL] when it shows values (only for commercial roles).

Readable on paper: every cell is a Paragraph that wraps between words, and each
table's column widths are worked out from its content so that no column is
narrower than its longest word (no "Perform ed"); stored codes are shown in words
(``disposals.wording``); a device status carries its colour from
``devices.status_colours``, the same as on the pages.
"""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from devices.models import SERIAL_NOT_RECORDED
from devices.status_colours import chart_fill
from disposals import wording

STYLES = getSampleStyleSheet()
FONT, BOLD, SIZE = "Helvetica", "Helvetica-Bold", 8
CELL = ParagraphStyle("cell", parent=STYLES["BodyText"], fontName=FONT, fontSize=SIZE, leading=10)
HEAD = ParagraphStyle("head", parent=CELL, fontName=BOLD)
PAGE_WIDTH = A4[0] - 30 * mm  # the frame between the margins
PADDING = 6 + 6  # reportlab's default left and right cell padding, in points
TABLE_STYLE = [
    ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f3f2f1")),
]
# Light text on a status colour, except on yellow (GOV.UK uses black there).
DARK_TEXT_ON = {"#ffdd00"}


def _p(text, style=CELL) -> Paragraph:
    # Paragraph parses a little markup: escape what came from users.
    return Paragraph(escape(str(text if text is not None else "")), style)


def _marking_on_pages(marking: str):
    def draw(canvas, doc):
        canvas.saveState()
        canvas.setFont("Helvetica-Bold", 10)
        canvas.setFillColor(colors.HexColor("#d4351c"))
        width, height = A4
        canvas.drawCentredString(width / 2, height - 12 * mm, marking)
        canvas.drawCentredString(width / 2, 10 * mm, marking)
        canvas.setFillColor(colors.black)
        canvas.setFont("Helvetica", 7)
        canvas.drawRightString(width - 15 * mm, 10 * mm, f"Page {doc.page}")
        canvas.restoreState()

    return draw


def _build(story, marking: str, title: str) -> bytes:
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=title,
        author="Device refresh tracker",
        topMargin=20 * mm,
        bottomMargin=18 * mm,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
    )
    draw = _marking_on_pages(marking)
    doc.build(story, onFirstPage=draw, onLaterPages=draw)
    return buffer.getvalue()


def _longest_word(text: str, font: str) -> float:
    return max((stringWidth(w, font, SIZE) for w in str(text).split()), default=0.0)


def fit_widths(header: list[str], rows: list[list], total: float = PAGE_WIDTH) -> list[float]:
    """Column widths for ``total`` points: each column at least as wide as its longest
    word (so no word is broken), the space left shared in proportion to how much
    text each column holds. Columns whose longest words cannot all fit are scaled
    down together (a word may then break, but never one of a normal length)."""
    columns = list(zip(header, *rows, strict=True)) if rows else [(h,) for h in header]
    minimum, natural = [], []
    for cells in columns:
        # The header (first cell) is set in bold, the rest in the regular face.
        longest = max(_longest_word(cell, BOLD if i == 0 else FONT) for i, cell in enumerate(cells))
        minimum.append(longest + PADDING + 1)
        natural.append(max(stringWidth(str(c), FONT, SIZE) for c in cells) + PADDING)
    if sum(minimum) >= total:
        scale = total / sum(minimum)
        return [w * scale for w in minimum]
    # Share out what is left, but never beyond a column's natural (one-line) width.
    widths = list(minimum)
    spare = total - sum(widths)
    while spare > 0.5:
        wanting = [i for i, w in enumerate(widths) if natural[i] - w > 0.5]
        if not wanting:
            break
        weight = sum(natural[i] - widths[i] for i in wanting)
        given = 0.0
        for i in wanting:
            extra = min(spare * (natural[i] - widths[i]) / weight, natural[i] - widths[i])
            widths[i] += extra
            given += extra
        spare -= given
        if given < 0.5:
            break
    if spare > 0.5:  # every column fits on one line: spread the rest evenly
        widths = [w + spare / len(widths) for w in widths]
    return widths


def _table(header: list[str], rows: list[list], *, widths=None, extra_style=()) -> Table:
    texts = [[str(c if c is not None else "") for c in row] for row in rows]
    widths = widths or fit_widths(header, texts)
    data = [[_p(h, HEAD) for h in header]] + [[_p(c) for c in row] for row in texts]
    table = Table(data, colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle([*TABLE_STYLE, *extra_style]))
    return table


def _pairs(rows: list[tuple[str, str]]) -> Table:
    """A two-column table of label and value, labels in bold, no header row."""
    data = [[_p(label, HEAD), _p(value)] for label, value in rows]
    table = Table(data, colWidths=[48 * mm, PAGE_WIDTH - 48 * mm])
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f3f2f1")),
            ]
        )
    )
    return table


def _when(value) -> str:
    return timezone.localtime(value).strftime("%-d %b %Y %H:%M") if value else ""


def _heading(text: str) -> Paragraph:
    return Paragraph(escape(text), STYLES["Heading2"])


def _coloured_status_table(header, rows, statuses, status_column) -> Table:
    """A table whose ``status_column`` cells carry their status's colour. The cell's
    text colour is set on the Paragraph (a table's TEXTCOLOR does not reach it)."""
    texts = [[str(c if c is not None else "") for c in row] for row in rows]
    widths = fit_widths(header, texts)
    data = [[_p(h, HEAD) for h in header]]
    style = []
    for r, (row, status) in enumerate(zip(texts, statuses, strict=True), start=1):
        cells = [_p(c) for c in row]
        if status:
            fill = chart_fill(status)
            ink = colors.black if fill in DARK_TEXT_ON else colors.white
            cells[status_column] = _p(
                row[status_column], ParagraphStyle("status", parent=CELL, textColor=ink)
            )
            style.append(
                ("BACKGROUND", (status_column, r), (status_column, r), colors.HexColor(fill))
            )
        data.append(cells)
    table = Table(data, colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle([*TABLE_STYLE, *style]))
    return table


def _event_rows(events) -> tuple[list[list[str]], list[str]]:
    rows, statuses = [], []
    for e in events:
        details = e.details or {}
        step = details.get("step")
        rows.append(
            [
                _when(e.occurred_at),
                wording.step_label(step) if step else e.get_kind_display(),
                wording.status_change(e.from_status, e.to_status),
                e.recorded_by.get_username() if e.recorded_by_id else (e.source or ""),
                "; ".join(f"{label}: {text}" for label, text in wording.event_details(details)),
            ]
        )
        statuses.append(e.to_status)
    return rows, statuses


def _review_rows(decision) -> list[tuple[str, str]]:
    """Who asked for an override of a suggested resale, who decided it, when, why."""
    rows = []
    if decision.overridden:
        rows.append(
            (
                "Override requested",
                f"{decision.get_route_display()}, asked for by "
                f"{decision.decided_by or 'the system'} on {_when(decision.decided_at)}: "
                f"{decision.override_reason}",
            )
        )
    if decision.needs_sign_off:
        review = decision.review
        if review is None:
            rows.append(("Finance sign-off", "Awaiting a finance or commercial officer"))
        elif review.rejected:
            rows.append(
                (
                    "Finance sign-off",
                    f"Rejected by {review.signed_off_by} ({wording.ROLES.get(review.signed_off_as, review.signed_off_as)}) "
                    f"on {_when(review.signed_off_at)}: {review.reason}. The device keeps its "
                    "suggested route.",
                )
            )
        else:
            rows.append(
                (
                    "Finance sign-off",
                    f"Signed off by {review.signed_off_by} ({wording.ROLES.get(review.signed_off_as, review.signed_off_as)}) "
                    f"on {_when(review.signed_off_at)}",
                )
            )
    return rows


def device_certificate(*, chain: dict, show_values: bool, marking: str) -> bytes:
    """One device's chain of custody: identity, sanitisation, assessment, route and its
    finance review, consignment and every lifecycle event in order."""
    device = chain["device"]
    identity = [
        ("Asset tag", device.asset_tag or "(no tag)"),
        ("Serial number", device.serial_number or SERIAL_NOT_RECORDED),
        ("Make and model", f"{device.manufacturer.name} {device.device_model.name}"),
        ("Business unit", f"{device.business_unit.name} ({device.business_unit.code})"),
    ]
    story = [
        Paragraph("Chain of custody certificate", STYLES["Title"]),
        _pairs(identity),
        _coloured_status_table(
            ["Device status"], [[device.get_status_display()]], [device.status], 0
        ),
        Spacer(1, 6 * mm),
        _heading("Sanitisation"),
    ]
    records = chain["sanitisation_records"]
    for r in records:
        story += [
            _pairs(
                [
                    ("Performed", _when(r.performed_at)),
                    ("Result", r.get_result_display()),
                    ("Method", r.get_method_display()),
                    ("Standard", r.standard),
                    ("Tool", f"{r.tool} {r.tool_version}".strip()),
                    ("Operator", r.operator),
                    ("Verifier", r.verifier),
                    ("Certificate or log reference", r.certificate_ref),
                ]
            ),
            Spacer(1, 3 * mm),
        ]
    if not records:
        story.append(_p("No sanitisation recorded."))
    assessment, decision = chain["assessment"], chain["route_decision"]
    story += [Spacer(1, 4 * mm), _heading("Assessment and route")]
    rows: list[tuple[str, str]] = []
    if assessment:
        rows.append(("Condition grade", assessment.get_grade_display()))
        if show_values:
            rows.append(("Estimated value", f"£{assessment.estimated_value:,.2f}"))
        rows.append(("Assessed", f"{_when(assessment.assessed_at)} by {assessment.assessed_by}"))
    if decision:
        rows.append(
            (
                "Suggested route",
                f"{decision.get_suggested_route_display()}: {decision.suggestion_reason}",
            )
        )
        if decision.awaiting_sign_off:
            rows.append(("Route", "Not chosen yet: the override awaits a decision"))
        else:
            rows.append(("Route", decision.get_final_route_display()))
        rows += _review_rows(decision)
        rows.append(
            ("Decided", f"{_when(decision.decided_at)} by {decision.decided_by or 'system'}")
        )
    consignment = chain["consignment"]
    if consignment:
        rows.append(("Consignment", f"{consignment.reference} to {consignment.partner.name}"))
        dispatched = (
            consignment.dispatch_date.strftime("%-d %b %Y") if consignment.dispatch_date else ""
        )
        rows.append(("Dispatched", f"{dispatched} collected by {consignment.collected_by}".strip()))
        rows.append(("Waste transfer note", consignment.transfer_note_ref))
    story.append(_pairs(rows or [("Assessment", "Not yet assessed")]))
    event_rows, statuses = _event_rows(chain["events"])
    story += [
        Spacer(1, 4 * mm),
        _heading("Lifecycle events, oldest first"),
        _coloured_status_table(["When", "Step", "Status", "By", "Details"], event_rows, statuses, 2)
        if event_rows
        else _p("No events recorded."),
        Spacer(1, 4 * mm),
        _p(f"Generated {_when(timezone.now())}."),
    ]
    return _build(story, marking, f"Chain of custody {device}")


def consignment_certificate(*, consignment, cases, show_values: bool, marking: str) -> bytes:
    """A consignment's certificate: where it went, the proof, and each device's
    sanitisation record."""
    dispatched = (
        consignment.dispatch_date.strftime("%-d %b %Y") if consignment.dispatch_date else ""
    )
    rows = [
        ("Route", consignment.get_route_display()),
        ("Partner", f"{consignment.partner.name} ({consignment.partner.get_kind_display()})"),
        ("Licence", consignment.partner.licence_number or "not applicable"),
        ("Status", consignment.get_status_display()),
        ("Dispatch date", dispatched or "not dispatched"),
        ("Collected by", consignment.collected_by),
        ("Waste transfer note", consignment.transfer_note_ref),
        ("Partner's certificate", "received" if consignment.certificate else "awaited"),
        ("Closed", _when(consignment.closed_at) or "no"),
    ]
    if show_values and consignment.proceeds is not None:
        rows.append(("Resale proceeds", f"£{consignment.proceeds:,.2f}"))
    device_rows = []
    for case in cases:
        record = next(iter(case.sanitisation_records.all()), None)
        device_rows.append(
            [
                case.device.asset_tag or "",
                case.device.serial_number or SERIAL_NOT_RECORDED,
                f"{case.device.manufacturer.name} {case.device.device_model.name}",
                record.get_result_display() if record else "",
                f"{record.get_method_display()}, {record.standard}" if record else "",
                record.certificate_ref if record else "",
                case.get_status_display(),
            ]
        )
    story = [
        Paragraph(f"Consignment {consignment.reference}: certificate of disposal", STYLES["Title"]),
        _pairs(rows),
        Spacer(1, 6 * mm),
        _heading(f"Devices ({len(device_rows):,})"),
        _table(
            ["Asset tag", "Serial", "Model", "Wipe", "Method and standard", "Reference", "Step"],
            device_rows or [["", "", "", "", "", "", ""]],
        ),
        Spacer(1, 4 * mm),
        _p(f"Generated {_when(timezone.now())}."),
    ]
    return _build(story, marking, f"Consignment {consignment.reference}")
