"""``{% load device_status %}``: a device status's GOV.UK tag class and chart colour
(devices.status_colours), so every page colours a status the same way."""

from django import template

from devices import status_colours

register = template.Library()


@register.filter
def status_tag_class(status: str) -> str:
    return status_colours.tag_class(status)


@register.filter
def status_chart_fill(status: str) -> str:
    return status_colours.chart_fill(status)
