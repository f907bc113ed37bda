"""Money in pounds for the refresh pages: "£1,234.00", and "−£1,234.00" when negative."""

from decimal import Decimal

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
