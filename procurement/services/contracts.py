"""The rules an order is checked against (procurement thresholds and the approval
authorities of each role, both dated) and the contracts orders are placed under."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum

from accounts.roles import Role, user_roles
from core.errors import DomainError
from procurement.models import (
    ApprovalAuthority,
    CapitalEnvelope,
    Contract,
    ProcurementThreshold,
)
from procurement.services.common import ZERO, add_months, gbp


def threshold_in_force(*, kind: str, on_date: dt.date) -> ProcurementThreshold | None:
    """The threshold of a kind in force on a day: the latest effective on or before it."""
    return (
        ProcurementThreshold.objects.filter(kind=kind, effective_from__lte=on_date)
        .order_by("-effective_from")
        .first()
    )


def threshold_create(
    *, kind: str, amount: Decimal, effective_from: dt.date, source: str = ""
) -> ProcurementThreshold:
    threshold = ProcurementThreshold(
        kind=kind, amount=amount, effective_from=effective_from, source=source
    )
    with transaction.atomic():
        threshold.full_clean()
        threshold.save()
    return threshold


def approval_authority_set(
    *, role: str, limit: Decimal | None, effective_from: dt.date
) -> ApprovalAuthority:
    authority = ApprovalAuthority(role=role, limit=limit, effective_from=effective_from)
    with transaction.atomic():
        authority.full_clean()
        authority.save()
    return authority


def approval_limit_for(*, user, on_date: dt.date) -> tuple[bool, Decimal | None]:
    """(may approve at all, the highest limit; None = no limit) for the user's roles
    on a day, from the ``ApprovalAuthority`` rows in force."""
    roles = {role.value for role in user_roles(user)}
    if getattr(user, "is_superuser", False):
        roles = {role.value for role in Role}
    best: Decimal | None = ZERO
    found = False
    for role in sorted(roles):
        row = (
            ApprovalAuthority.objects.filter(role=role, effective_from__lte=on_date)
            .order_by("-effective_from")
            .first()
        )
        if row is None:
            continue
        found = True
        if row.limit is None:
            return True, None
        best = max(best, row.limit)
    return found, best if found else None


def contract_create(
    *,
    envelope: CapitalEnvelope,
    supplier,
    reference: str,
    title: str,
    route: str,
    value_ceiling: Decimal,
    start_date: dt.date,
    end_date: dt.date,
    framework_name: str = "",
    framework_reference: str = "",
    ordering_process_followed: bool = False,
    created_by=None,
) -> Contract:
    """Record a contract. New contracts under this authority may total at most the
    envelope's ``new_contract_limit`` (£25m) and last at most
    ``new_contract_max_term_months`` (4 years): the Commercial Director's delegation
    in the business case. A call-off names its framework."""
    contract = Contract(
        envelope=envelope,
        supplier=supplier,
        reference=reference.strip(),
        title=title.strip(),
        route=route,
        value_ceiling=value_ceiling,
        start_date=start_date,
        end_date=end_date,
        framework_name=framework_name.strip(),
        framework_reference=framework_reference.strip(),
        ordering_process_followed=ordering_process_followed,
        created_by=created_by,
    )
    if route == Contract.Route.CALL_OFF and not contract.framework_name:
        raise DomainError(
            "A call-off must name the framework or contract it calls off.",
            field="framework_name",
        )
    with transaction.atomic():
        # Lock the envelope so two new contracts cannot both fit under £25m alone.
        envelope = CapitalEnvelope.objects.select_for_update().get(pk=envelope.pk)
        contract.envelope = envelope
        contract.full_clean()
        if route == Contract.Route.NEW_CONTRACT:
            latest_end = add_months(start_date, envelope.new_contract_max_term_months)
            latest_end -= dt.timedelta(days=1)
            if end_date > latest_end:
                raise DomainError(
                    f"A new contract may last at most {envelope.new_contract_max_term_months} "
                    f"months: it must end by {latest_end:%d %B %Y}, "
                    f"{(end_date - latest_end).days} days before {end_date:%d %B %Y}.",
                    field="end_date",
                    code="term_exceeded",
                )
            awarded = (
                envelope.contracts.filter(route=Contract.Route.NEW_CONTRACT).aggregate(
                    total=Sum("value_ceiling")
                )["total"]
                or ZERO
            )
            if awarded + value_ceiling > envelope.new_contract_limit:
                raise DomainError(
                    f"New contracts under this authority would total "
                    f"{gbp(awarded + value_ceiling)}, "
                    f"{gbp(awarded + value_ceiling - envelope.new_contract_limit)} over the "
                    f"{gbp(envelope.new_contract_limit)} limit.",
                    field="value_ceiling",
                    code="contract_limit_exceeded",
                )
        contract.save()
    return contract
