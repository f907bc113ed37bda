"""Small display helpers for the disposal pages: stored codes in words
(``disposals.wording``) and lookups the templates need."""

from django import template

from disposals import wording

register = template.Library()


@register.filter
def words(value) -> str:
    """``case_opened`` -> ``case opened``: stored keys shown as words."""
    return str(value).replace("_", " ")


@register.filter
def step_label(value) -> str:
    """A custody step's code in words (``route_chosen`` -> "Route chosen")."""
    return wording.step_label(value)


@register.simple_tag
def status_change(from_status, to_status) -> str:
    """``in_stock``, ``deployed`` -> "In stock → Deployed"."""
    return wording.status_change(from_status or "", to_status or "")


@register.filter
def status_label(value) -> str:
    return wording.status_label(value or "")


@register.filter
def event_details(details) -> list[tuple[str, str]]:
    """An event's details as (label, words) pairs."""
    return wording.event_details(details)


@register.filter
def lookup(mapping, key):
    """``mapping[key]`` (keys compared as text), or an empty string."""
    if not mapping:
        return ""
    return mapping.get(str(key), "")
