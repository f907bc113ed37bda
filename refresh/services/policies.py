"""Writes for what refresh is planned by: policy versions, OS end-of-support
dates and BAU rates."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction

from core.errors import DomainError
from refresh.models import BauRate, OsEndOfSupport, RefreshPolicy
from refresh.services.validation import raise_validation


def refresh_policy_create(*, actor=None, **fields) -> RefreshPolicy:
    """Add a policy version for a category from ``effective_from``.

    Policies are never edited in place (business case: the plan is monitored
    through the period, decisions taken stay taken): a change is a new row, and
    eligibility rows and wave items keep the id of the policy they used.
    """
    policy = RefreshPolicy(created_by=actor, **fields)
    try:
        policy.full_clean()
    except ValidationError as exc:
        raise_validation(exc)
    with transaction.atomic():
        policy.save()
    return policy


def os_end_of_support_save(*, os_prefix: str, end_of_support: dt.date) -> OsEndOfSupport:
    """Record when an operating system (matched by prefix) goes out of support."""
    os_prefix = os_prefix.strip()
    if "%" in os_prefix or "_" in os_prefix:
        raise DomainError("An OS prefix cannot contain % or _.", field="os_prefix")
    with transaction.atomic():
        entry = OsEndOfSupport.objects.select_for_update().filter(os_prefix=os_prefix).first()
        entry = entry or OsEndOfSupport(os_prefix=os_prefix)
        entry.end_of_support = end_of_support
        try:
            entry.full_clean()
        except ValidationError as exc:
            raise_validation(exc)
        entry.save()
    return entry


def bau_rate_save(*, category: str, actor=None, **fields) -> BauRate:
    """Set a category's BAU rates (finance owns them)."""
    with transaction.atomic():
        rate = BauRate.objects.select_for_update().filter(category=category).first()
        rate = rate or BauRate(category=category)
        for name, value in fields.items():
            setattr(rate, name, value)
        rate.updated_by = actor
        try:
            rate.full_clean()
        except ValidationError as exc:
            raise_validation(exc)
        rate.save()
    return rate
