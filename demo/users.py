"""Demo logins: one user per role, for ``make run`` and the browser tests.

These are demo accounts with published passwords. Set ``DEMO_PASSWORD`` to give them
all one password of your own; never run this against a real estate.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from django.db import transaction

from accounts.models import BusinessUnit
from accounts.services import user_create
from core.errors import DomainError
from devices.demo import DEMO_VIEWER_UNIT


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str  # a slug from accounts.roles.ROLE_SLUGS
    password: str | None  # None: token-only (integration)
    units: tuple[str, ...] = ()


# The published demo passwords (README and the printed table show them).
DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("asset.manager", "asset-manager", "demo-asset-manager"),
    DemoUser("finance.officer", "finance", "demo-finance-officer"),
    DemoUser("finance.approver", "finance", "demo-finance-approver"),
    DemoUser("commercial.officer", "commercial", "demo-commercial-officer"),
    DemoUser("unit.viewer", "unit-viewer", "demo-unit-viewer", (DEMO_VIEWER_UNIT,)),
    DemoUser("itsm.integration", "integration", None),
)


def demo_users_ensure() -> list[tuple[str, str | None, str, str]]:
    """Create or update the demo users; returns ``(username, password, role, scope)`` rows.

    Idempotent. The unit viewer is scoped to the command ``seed_demo`` always creates
    (with several units beneath it), so the estate must be seeded first.
    """
    override = os.environ.get("DEMO_PASSWORD") or None
    wanted = {code for user in DEMO_USERS for code in user.units}
    units = {u.code: u for u in BusinessUnit.objects.filter(code__in=wanted)}
    missing = sorted(wanted - set(units))
    if missing:
        raise DomainError(
            f"Business unit {', '.join(missing)} does not exist: run `manage.py seed_demo` "
            "first (the demo unit viewer is scoped to it).",
            field="unit",
        )
    rows = []
    with transaction.atomic():
        for spec in DEMO_USERS:
            password = (override or spec.password) if spec.password else None
            user = user_create(
                username=spec.username, role=spec.role, password=password, unit_codes=spec.units
            )
            if password is None and user.has_usable_password():
                # Token only: an integration account never logs in with a password.
                user.set_unusable_password()
                user.save(update_fields=["password"])
            rows.append((spec.username, password, spec.role, _scope_label(spec, units)))
    return rows


def _scope_label(spec: DemoUser, units: dict[str, BusinessUnit]) -> str:
    if not spec.units:
        return "all units"
    labels = []
    for code in spec.units:
        unit = units[code]
        below = BusinessUnit.objects.filter(path__startswith=unit.path).exclude(pk=unit.pk).count()
        labels.append(f"{unit.code} {unit.name} (and {below} units beneath)")
    return "; ".join(labels)
