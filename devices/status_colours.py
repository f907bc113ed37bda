"""One colour per device status across the product: GOV.UK tags on pages and chart
series (Chart.js on pages, reportlab in PDFs, fills in spreadsheets) all read this table.
Each chart fill is the GOV.UK palette colour of the same hue as the status's tag."""

from __future__ import annotations

from devices.models import Device

S = Device.Status

# status -> (GOV.UK tag modifier, chart/PDF fill)
STATUS_COLOURS: dict[str, tuple[str, str]] = {
    S.DEPLOYED: ("govuk-tag--green", "#00703c"),
    S.IN_STOCK: ("govuk-tag--blue", "#1d70b8"),
    S.IN_REPAIR: ("govuk-tag--yellow", "#ffdd00"),
    S.RETURNED: ("govuk-tag--orange", "#f47738"),
    S.AWAITING_SANITISATION: ("govuk-tag--purple", "#4c2c92"),
    S.SANITISED: ("govuk-tag--turquoise", "#28a197"),
    S.DISPOSED: ("govuk-tag--grey", "#505a5f"),
    S.LOST_STOLEN: ("govuk-tag--red", "#d4351c"),
}
FALLBACK = ("govuk-tag--grey", "#505a5f")


def tag_class(status: str) -> str:
    return STATUS_COLOURS.get(status, FALLBACK)[0]


def chart_fill(status: str) -> str:
    """The fill of a status's series in every chart (pages and PDFs)."""
    return STATUS_COLOURS.get(status, FALLBACK)[1]
