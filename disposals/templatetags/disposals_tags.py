"""Small display helpers for the disposal pages."""

from django import template

register = template.Library()


@register.filter
def words(value) -> str:
    """``case_opened`` -> ``case opened``: stored keys shown as words."""
    return str(value).replace("_", " ")
