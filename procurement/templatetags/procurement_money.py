"""Money and signals on the procurement pages: "£1,234.56" in tables, whole pounds
("£22,060,000") in headlines, VAT as "20%", and each headroom signal as one GOV.UK
tag with words, the same colour wherever it appears."""

from decimal import ROUND_HALF_UP, Decimal

from django import template
from django.template.defaultfilters import floatformat
from django.utils.html import format_html

from procurement.selectors import SIGNAL_TAGS, SIGNALS

register = template.Library()


def _signed(amount: Decimal, text: str) -> str:
    return f"−£{text}" if amount < 0 else f"£{text}"


@register.filter
def pounds(value):
    """Pounds and pence with thousands separators: "£1,234.50", "−£20.00"."""
    if value is None or value == "":
        return "—"
    amount = Decimal(value)
    return _signed(amount, floatformat(abs(amount), "2g"))


@register.filter
def pounds_whole(value):
    """A headline sum in whole pounds: "£22,060,000"."""
    if value is None or value == "":
        return "—"
    amount = Decimal(value).quantize(Decimal("1"), rounding=ROUND_HALF_UP)
    return _signed(amount, floatformat(abs(amount), "0g"))


@register.filter
def pounds_whole_abs(value):
    """The size of a gain or loss in whole pounds; the words beside it say which."""
    if value is None or value == "":
        return "—"
    return pounds_whole(abs(Decimal(value)))


@register.filter
def percent(value):
    """A rate kept as a fraction, as people write it: 0.2000 -> "20%", 0.175 -> "17.5%"."""
    if value is None or value == "":
        return "—"
    share = (Decimal(value) * 100).quantize(Decimal("0.01")).normalize()
    return f"{share:f}%"


@register.simple_tag
def signal_tag(signal: str):
    """The GOV.UK tag for a headroom signal (within plan, forecast over budget, over
    plan volume, closed)."""
    return format_html(
        '<strong class="govuk-tag {}" data-signal="{}">{}</strong>',
        SIGNAL_TAGS.get(signal, "govuk-tag--grey"),
        signal,
        SIGNALS.get(signal, signal),
    )


# One colour per purchase-order status, on every procurement page.
ORDER_STATUS_TAGS = {
    "draft": "govuk-tag--grey",
    "submitted": "govuk-tag--blue",
    "approved": "govuk-tag--turquoise",
    "ordered": "govuk-tag--purple",
    "partly_received": "govuk-tag--yellow",
    "received": "govuk-tag--green",
    "closed": "govuk-tag--grey",
    "cancelled": "govuk-tag--red",
}


@register.simple_tag
def order_status_tag(order):
    return format_html(
        '<strong class="govuk-tag {}" data-test="status">{}</strong>',
        ORDER_STATUS_TAGS.get(order.status, "govuk-tag--grey"),
        order.get_status_display(),
    )
