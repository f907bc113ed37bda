"""Money in pounds for the refresh pages: "£1,234.00", and "−£1,234.00" when negative;
headline sums in whole pounds ("£1,234")."""

from decimal import ROUND_HALF_UP, Decimal

from django import template
from django.template.defaultfilters import floatformat

register = template.Library()


@register.filter
def pounds(value):
    if value is None or value == "":
        return "—"
    amount = Decimal(value)
    text = floatformat(abs(amount), "2g")
    return f"−£{text}" if amount < 0 else f"£{text}"


@register.filter
def pounds_abs(value):
    """The size of a saving or overspend, the word beside it says which."""
    if value is None or value == "":
        return "—"
    return pounds(abs(Decimal(value)))


@register.filter
def pounds_whole(value):
    """A headline sum in whole pounds: "£38,912,345", "−£1,250"."""
    if value is None or value == "":
        return "—"
    amount = Decimal(value).quantize(Decimal("1"), rounding=ROUND_HALF_UP)
    text = floatformat(abs(amount), "0g")
    return f"−£{text}" if amount < 0 else f"£{text}"


@register.filter
def pounds_whole_abs(value):
    """The size of a headline saving or overspend in whole pounds (the word beside
    it says which)."""
    if value is None or value == "":
        return "—"
    return pounds_whole(abs(Decimal(value)))
