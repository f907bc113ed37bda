"""The rules an order is checked against (procurement thresholds and the approval
authorities of each role, both dated) and the contracts orders are placed under."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.roles import Role, has_role, user_roles
from core.errors import DomainError
from procurement.models import (
    ApprovalAuthority,
    CapitalEnvelope,
    Contract,
    ContractAward,
    ProcurementThreshold,
)
from procurement.services.common import ZERO, add_months, gbp, london_today

# The default approval table, from the business case's delegations. No role is
# unlimited: an unlimited row is a recorded decision (``decision_reference``).
# - Finance officers act for the Director of Applications, End User and Radio
#   Services, who manages the capital spend: up to £213,476.99, just below the
#   procurement-regulations threshold (£213,477 incl. VAT), so finance alone never
#   approves an award that needs a compliant route.
# - Commercial officers act under the Commercial Director, whose delegation is new
#   contracts up to £25m: up to £25,000,000.00. At £500,000 and above the DMPC's
#   approval / no call-in must be recorded as well (``approval_requirements``), so
#   those orders rest on the DMPC's decision too. A lower commercial limit (say
#   £500,000) would leave the DMPC-approved orders with no one able to approve them.
DEFAULT_APPROVAL_AUTHORITIES: dict[str, Decimal] = {
    Role.FINANCE.value: Decimal("213476.99"),
    Role.COMMERCIAL.value: Decimal("25000000.00"),
}


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
    *,
    role: str,
    limit: Decimal | None,
    effective_from: dt.date,
    decision_reference: str = "",
    recorded_by=None,
) -> ApprovalAuthority:
    """Add a dated row to the approval table (rows are never edited: a change of
    authority is a new row from its date). ``limit=None`` (no limit) is allowed only
    as an explicit decision: give its ``decision_reference``."""
    decision_reference = (decision_reference or "").strip()
    if limit is None and not decision_reference:
        raise DomainError(
            f"An unlimited approval authority for {role} must name the decision that "
            "grants it: give its decision reference, or set a limit.",
            field="decision_reference",
            code="unlimited_needs_decision",
        )
    authority = ApprovalAuthority(
        role=role,
        limit=limit,
        effective_from=effective_from,
        decision_reference=decision_reference,
        recorded_by=recorded_by,
        recorded_at=timezone.now(),
    )
    with transaction.atomic():
        authority.full_clean()
        authority.save()
    return authority


def approval_authorities_default_ensure(
    *, effective_from: dt.date, recorded_by=None
) -> list[ApprovalAuthority]:
    """Give each role in ``DEFAULT_APPROVAL_AUTHORITIES`` its default row from
    ``effective_from``, unless it already has a row on or before that day."""
    created = []
    with transaction.atomic():
        for role, limit in DEFAULT_APPROVAL_AUTHORITIES.items():
            if ApprovalAuthority.objects.filter(
                role=role, effective_from__lte=effective_from
            ).exists():
                continue
            created.append(
                approval_authority_set(
                    role=role,
                    limit=limit,
                    effective_from=effective_from,
                    decision_reference="Default delegation (business case: Financial, "
                    "Commercial and Procurement)",
                    recorded_by=recorded_by,
                )
            )
    return created


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
    framework_ceiling: Decimal | None = None,
    framework_end_date: dt.date | None = None,
    created_by=None,
) -> Contract:
    """Record a contract (it takes orders once its award is recorded:
    ``contract_award_record``).

    New contracts under this authority may total at most the envelope's
    ``new_contract_limit`` (£25m) and last at most ``new_contract_max_term_months``
    (4 years): the Commercial Director's delegation in the business case. A call-off
    names its framework and may neither exceed the framework's ceiling nor end after
    it ("a compliantly procured framework is compliant when its ordering process is
    followed": a call-off outside the framework is not under it). The database
    holds the same ceilings (CHECK constraints on ``procurement_contract``).
    """
    contract = Contract(
        envelope=envelope,
        supplier=supplier,
        reference=(reference or "").strip(),
        title=(title or "").strip(),
        route=route,
        value_ceiling=value_ceiling,
        start_date=start_date,
        end_date=end_date,
        framework_name=(framework_name or "").strip(),
        framework_reference=(framework_reference or "").strip(),
        ordering_process_followed=ordering_process_followed,
        framework_ceiling=framework_ceiling if route == Contract.Route.CALL_OFF else None,
        framework_end_date=framework_end_date if route == Contract.Route.CALL_OFF else None,
        created_by=created_by,
    )
    if value_ceiling is None or value_ceiling <= 0:
        raise DomainError(
            "Give the contract's value ceiling (more than £0).", field="value_ceiling"
        )
    if start_date and end_date and end_date < start_date:
        raise DomainError(
            f"The contract ends ({end_date:%d %B %Y}) before it starts ({start_date:%d %B %Y}).",
            field="end_date",
        )
    if route == Contract.Route.CALL_OFF:
        _check_call_off_within_framework(contract)
    with transaction.atomic():
        # Lock the envelope so two new contracts cannot both fit under £25m alone.
        envelope = CapitalEnvelope.objects.select_for_update().get(pk=envelope.pk)
        contract.envelope = envelope
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
        contract.full_clean()
        contract.save()
    return contract


def _check_call_off_within_framework(contract: Contract) -> None:
    if not contract.framework_name:
        raise DomainError(
            "A call-off must name the framework or contract it calls off.",
            field="framework_name",
        )
    if contract.framework_ceiling is None:
        raise DomainError(
            f"Give {contract.framework_name}'s ceiling: a call-off may not exceed it.",
            field="framework_ceiling",
        )
    if contract.framework_end_date is None:
        raise DomainError(
            f"Give the date {contract.framework_name} ends: a call-off may not outlast it.",
            field="framework_end_date",
        )
    if contract.value_ceiling > contract.framework_ceiling:
        raise DomainError(
            f"A call-off of {gbp(contract.value_ceiling)} exceeds its framework's ceiling of "
            f"{gbp(contract.framework_ceiling)} by "
            f"{gbp(contract.value_ceiling - contract.framework_ceiling)}.",
            field="value_ceiling",
            code="framework_ceiling_exceeded",
        )
    if contract.end_date > contract.framework_end_date:
        raise DomainError(
            f"A call-off ending {contract.end_date:%d %B %Y} outlasts its framework, which "
            f"ends {contract.framework_end_date:%d %B %Y}.",
            field="end_date",
            code="framework_term_exceeded",
        )


def contract_award_record(
    *,
    contract: Contract,
    compliant_route: str,
    dsp_consent_reference: str,
    dsp_consent_on: dt.date,
    recorded_by,
    awarded_on: dt.date | None = None,
    dmpc_notified_on: dt.date | None = None,
    dmpc_called_in: bool | None = None,
    dmpc_decision_reference: str = "",
) -> ContractAward:
    """Record a contract's award; until then it takes no orders (``contract_not_awarded``).

    Business case, Legal Comments: an award follows a compliant route (a call-off is
    compliant when its framework's ordering process is followed); the Director of
    Strategic Procurement consents to contract awards; the DMPC may call in any
    proposal to award a contract of £500,000 or above (the threshold in force on the
    award day), so at that value the record says when the DMPC was notified, whether
    it called the award in, and if so the DMPC decision it rests on.
    """
    if not has_role(recorded_by, Role.COMMERCIAL):
        raise DomainError(
            "Only commercial officers record contract awards.",
            field="compliant_route",
            code="permission_denied",
        )
    awarded_on = awarded_on or london_today()
    compliant_route = (compliant_route or "").strip()
    dsp_consent_reference = (dsp_consent_reference or "").strip()
    dmpc_decision_reference = (dmpc_decision_reference or "").strip()
    if not compliant_route:
        raise DomainError("Say which compliant route the award followed.", field="compliant_route")
    if not dsp_consent_reference or dsp_consent_on is None:
        raise DomainError(
            "Record the Director of Strategic Procurement's consent (reference and date).",
            field="dsp_consent_reference",
        )
    with transaction.atomic():
        locked = Contract.objects.select_for_update().get(pk=contract.pk)
        if ContractAward.objects.filter(contract=locked).exists():
            raise DomainError(
                f"Contract {locked.reference}'s award is already recorded.",
                field="contract",
                code="already_awarded",
            )
        if locked.route == Contract.Route.CALL_OFF and not locked.ordering_process_followed:
            raise DomainError(
                f"Contract {locked.reference} is a call-off whose framework ordering process "
                "was not followed: that is not a compliant route.",
                field="compliant_route",
                code="not_compliant_route",
            )
        dmpc = threshold_in_force(kind=ProcurementThreshold.Kind.DEPUTY_MAYOR, on_date=awarded_on)
        if dmpc is None:
            raise DomainError(
                f"No DMPC threshold is in force on {awarded_on:%d %B %Y}.", field="awarded_on"
            )
        if locked.value_ceiling >= dmpc.amount:
            if dmpc_notified_on is None or dmpc_called_in is None:
                raise DomainError(
                    f"At {gbp(locked.value_ceiling)} (DMPC threshold {gbp(dmpc.amount)}) the "
                    "DMPC may call the award in: record when it was notified and whether it "
                    "called it in.",
                    field="dmpc_notified_on",
                    code="dmpc_outcome_missing",
                )
            if dmpc_called_in and not dmpc_decision_reference:
                raise DomainError(
                    "The DMPC called the award in: record the DMPC decision it rests on.",
                    field="dmpc_decision_reference",
                    code="dmpc_outcome_missing",
                )
        award = ContractAward(
            contract=locked,
            compliant_route=compliant_route,
            dsp_consent_reference=dsp_consent_reference,
            dsp_consent_on=dsp_consent_on,
            awarded_on=awarded_on,
            dmpc_notified_on=dmpc_notified_on,
            dmpc_called_in=dmpc_called_in,
            dmpc_decision_reference=dmpc_decision_reference,
            recorded_by=recorded_by,
            recorded_at=timezone.now(),
        )
        award.full_clean()
        award.save()
    contract.award = award
    return award
