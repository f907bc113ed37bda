"""Chain-of-custody certificates as PDF (reportlab), per device or per consignment.

Each page carries the classification marking at the top and the bottom: OFFICIAL,
or OFFICIAL-SENSITIVE [COMMERCIAL] when it shows values (only for commercial roles).
"""

from __future__ import annotations

import io

from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

STYLES = getSampleStyleSheet()
TABLE_STYLE = TableStyle(
    [
        ("FONT", (0, 0), (-1, -1), "Helvetica", 8),
        ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f3f2f1")),
    ]
)


def _p(text) -> Paragraph:
    # Paragraph parses a little markup: escape what came from users.
    from xml.sax.saxutils import escape

    return Paragraph(escape(str(text if text is not None else "")), STYLES["BodyText"])


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


def _table(header, rows, widths=None) -> Table:
    data = [[_p(h) for h in header]] + [[_p(c) for c in row] for row in rows]
    table = Table(data, colWidths=widths, repeatRows=1)
    table.setStyle(TABLE_STYLE)
    return table


def _when(value) -> str:
    return timezone.localtime(value).strftime("%d %b %Y %H:%M") if value else ""


def _event_rows(events):
    for e in events:
        details = e.details or {}
        summary = ", ".join(
            f"{k.replace('_', ' ')}: {v}" for k, v in details.items() if k != "record_id"
        )
        yield [
            _when(e.occurred_at),
            e.get_kind_display(),
            f"{e.from_status} → {e.to_status}" if e.from_status != e.to_status else e.to_status,
            e.recorded_by.get_username() if e.recorded_by_id else (e.source or ""),
            summary,
        ]


def device_certificate(*, chain: dict, show_values: bool, marking: str) -> bytes:
    """One device's chain of custody: identity, sanitisation, assessment, route,
    consignment and every lifecycle event in order."""
    device = chain["device"]
    story = [
        Paragraph("Chain of custody certificate", STYLES["Title"]),
        _table(
            ["Asset tag", "Serial number", "Make and model", "Business unit", "Status"],
            [
                [
                    device.asset_tag or "",
                    device.serial_number,
                    f"{device.manufacturer.name} {device.device_model.name}",
                    device.business_unit.code,
                    device.get_status_display(),
                ]
            ],
        ),
        Spacer(1, 6 * mm),
        Paragraph("Sanitisation", STYLES["Heading2"]),
    ]
    records = chain["sanitisation_records"]
    if records:
        story.append(
            _table(
                [
                    "Performed",
                    "Method",
                    "Standard",
                    "Tool",
                    "Operator",
                    "Verifier",
                    "Result",
                    "Ref.",
                ],
                [
                    [
                        _when(r.performed_at),
                        r.get_method_display(),
                        r.standard,
                        f"{r.tool} {r.tool_version}".strip(),
                        r.operator,
                        r.verifier,
                        r.get_result_display(),
                        r.certificate_ref,
                    ]
                    for r in records
                ],
            )
        )
    else:
        story.append(_p("No sanitisation recorded."))
    assessment, decision = chain["assessment"], chain["route_decision"]
    story += [Spacer(1, 4 * mm), Paragraph("Assessment and route", STYLES["Heading2"])]
    rows = []
    if assessment:
        rows.append(["Condition grade", assessment.grade])
        if show_values:
            rows.append(["Estimated value (£)", f"{assessment.estimated_value:,.2f}"])
        rows.append(["Assessed", f"{_when(assessment.assessed_at)} by {assessment.assessed_by}"])
    if decision:
        rows.append(
            [
                "Suggested route",
                f"{decision.get_suggested_route_display()}: {decision.suggestion_reason}",
            ]
        )
        rows.append(["Route", decision.get_route_display()])
        if decision.overridden:
            rows.append(["Override reason", decision.override_reason])
        rows.append(
            ["Decided", f"{_when(decision.decided_at)} by {decision.decided_by or 'system'}"]
        )
    consignment = chain["consignment"]
    if consignment:
        rows.append(["Consignment", f"{consignment.reference} to {consignment.partner.name}"])
        rows.append(
            [
                "Dispatched",
                f"{consignment.dispatch_date or ''} collected by {consignment.collected_by}",
            ]
        )
        rows.append(["Transfer note", consignment.transfer_note_ref])
    story.append(_table(["", ""], rows or [["", "Not yet assessed"]], widths=[45 * mm, 135 * mm]))
    story += [
        Spacer(1, 4 * mm),
        Paragraph("Lifecycle events", STYLES["Heading2"]),
        _table(
            ["When", "Step", "Status", "By", "Details"],
            list(_event_rows(chain["events"])),
            widths=[26 * mm, 24 * mm, 34 * mm, 24 * mm, 72 * mm],
        ),
        Spacer(1, 4 * mm),
        _p(f"Generated {_when(timezone.now())}."),
    ]
    return _build(story, marking, f"Chain of custody {device}")


def consignment_certificate(*, consignment, cases, show_values: bool, marking: str) -> bytes:
    """A consignment's certificate: where it went, the proof, and each device's
    sanitisation record."""
    rows = [
        ["Route", consignment.get_route_display()],
        ["Partner", f"{consignment.partner.name} ({consignment.partner.get_kind_display()})"],
        ["Licence", consignment.partner.licence_number or "n/a"],
        ["Status", consignment.get_status_display()],
        ["Dispatch date", str(consignment.dispatch_date or "")],
        ["Collected by", consignment.collected_by],
        ["Transfer note", consignment.transfer_note_ref],
        ["Partner certificate", "received" if consignment.certificate else "awaited"],
        ["Closed", _when(consignment.closed_at)],
    ]
    if show_values and consignment.proceeds is not None:
        rows.append(["Resale proceeds (£)", f"{consignment.proceeds:,.2f}"])
    device_rows = []
    for case in cases:
        record = next(iter(case.sanitisation_records.all()), None)
        device_rows.append(
            [
                case.device.asset_tag or "",
                case.device.serial_number,
                f"{case.device.manufacturer.name} {case.device.device_model.name}",
                record.get_result_display() if record else "",
                f"{record.get_method_display()} / {record.standard}" if record else "",
                record.certificate_ref if record else "",
                case.get_status_display(),
            ]
        )
    story = [
        Paragraph(f"Consignment {consignment.reference}: certificate of disposal", STYLES["Title"]),
        _table(["", ""], rows, widths=[45 * mm, 135 * mm]),
        Spacer(1, 6 * mm),
        Paragraph(f"Devices ({len(device_rows)})", STYLES["Heading2"]),
        _table(
            ["Asset tag", "Serial", "Model", "Wipe", "Method / standard", "Ref.", "Status"],
            device_rows or [["", "", "", "", "", "", ""]],
        ),
        Spacer(1, 4 * mm),
        _p(f"Generated {_when(timezone.now())}."),
    ]
    return _build(story, marking, f"Consignment {consignment.reference}")
