"""Business units (their tree and paths) and provisioning users with a role and a
business-unit scope."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Concat, Substr

from accounts.models import BusinessUnit, UserScope
from accounts.roles import ROLE_SLUGS, Role
from core.errors import DomainError


def business_unit_save(*, unit: BusinessUnit) -> BusinessUnit:
    """Save a unit and keep the materialised ``path`` of it and its subtree right.

    A unit cannot be its own ancestor: moving it under one of its descendants is
    refused, since the tree would lose its root.
    """
    with transaction.atomic():
        old_path = None
        if unit.pk:
            old_path = (
                BusinessUnit.objects.select_for_update()
                .filter(pk=unit.pk)
                .values_list("path", flat=True)
                .first()
            )
        parent_path = ""
        if unit.parent_id:
            parent = BusinessUnit.objects.get(pk=unit.parent_id)
            if old_path and parent.path.startswith(old_path):
                raise DomainError(
                    f"{unit.code} cannot sit under {parent.code}, which is inside it.",
                    field="parent",
                )
            parent_path = parent.path
        unit.path = f"{parent_path}{unit.code}/"
        unit.full_clean()
        unit.save()
        if old_path and old_path != unit.path:
            # Re-root the subtree in one statement.
            BusinessUnit.objects.filter(path__startswith=old_path).exclude(pk=unit.pk).update(
                path=Concat(Value(unit.path), Substr("path", len(old_path) + 1))
            )
    return unit


def role_groups_ensure() -> dict[Role, Group]:
    """Create the four role groups if missing (idempotent; also run by a migration)."""
    return {role: Group.objects.get_or_create(name=role.value)[0] for role in Role}


def user_create(
    *, username: str, role: str, password: str | None, unit_codes: list[str] | tuple[str, ...] = ()
):
    """Create or update a user holding one role, scoped to the given units.

    Unknown roles or unit codes are refused with the name that was wrong, and
    nothing is written.
    """
    if role not in ROLE_SLUGS:
        raise DomainError(
            f"Unknown role {role!r}; choose one of {', '.join(sorted(ROLE_SLUGS))}.", field="role"
        )
    units = list(BusinessUnit.objects.filter(code__in=unit_codes))
    missing = sorted(set(unit_codes) - {u.code for u in units})
    if missing:
        raise DomainError(f"Unknown business unit {', '.join(missing)}.", field="unit")
    if ROLE_SLUGS[role] is Role.UNIT_VIEWER and not units:
        raise DomainError("A unit viewer needs at least one --unit.", field="unit")
    User = get_user_model()
    with transaction.atomic():
        groups = role_groups_ensure()
        user, created = User.objects.get_or_create(username=username)
        if password:
            user.set_password(password)
        elif created:
            # Integration accounts authenticate with API tokens only.
            user.set_unusable_password()
        user.is_staff = ROLE_SLUGS[role] is Role.ASSET_MANAGER
        user.save()
        user.groups.add(groups[ROLE_SLUGS[role]])
        UserScope.objects.filter(user=user).exclude(business_unit__in=units).delete()
        for unit in units:
            UserScope.objects.get_or_create(user=user, business_unit=unit)
    return user
