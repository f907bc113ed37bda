"""``{% load refresh_swaps %}``: one colour per swap status on every refresh page."""

from django import template

from refresh.models import WaveItem

register = template.Library()

S = WaveItem.Status
SWAP_TAGS = {
    S.PLANNED: "govuk-tag--grey",
    S.ALLOCATED: "govuk-tag--blue",
    S.HANDED_OVER: "govuk-tag--turquoise",
    S.RETURNED: "govuk-tag--orange",
    S.COMPLETED: "govuk-tag--green",
    S.CANCELLED: "govuk-tag--red",
}
del S


@register.filter
def swap_tag_class(status: str) -> str:
    return SWAP_TAGS.get(status, "govuk-tag--grey")
