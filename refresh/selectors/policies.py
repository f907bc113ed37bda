"""The refresh policies in force on a date."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from refresh.models import RefreshPolicy


def policies_in_force(*, on_date: dt.date) -> dict[str, RefreshPolicy]:
    """The policy in force for each category on a date (latest effective_from <= date)."""
    in_force: dict[str, RefreshPolicy] = {}
    for policy in RefreshPolicy.objects.filter(effective_from__lte=on_date).order_by(
        "category", "-effective_from"
    ):
        in_force.setdefault(policy.category, policy)
    return in_force


def policies_current() -> list[RefreshPolicy]:
    """Today's policy for each category, by category."""
    return sorted(
        policies_in_force(on_date=timezone.localdate()).values(), key=lambda p: p.category
    )
