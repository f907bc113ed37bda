"""Finance or commercial review of a request to override a suggested resale.

Business case: "we will review whether there is any residual monetary value before
deciding to" donate; resale where value exists. An asset manager's override away
from a suggested resale (``routes_decide``) is only a request. A finance or
commercial officer other than the requester decides it, one way or the other:

* ``route_overrides_sign_off``: the device takes the route asked for;
* ``route_overrides_reject``: the device keeps its suggested route (resale), and the
  reason is recorded.

Either way the decision is a ``RouteOverrideSignOff`` row (append-only, one per
request, with its ``outcome``), the case moves on (value assessed -> route chosen)
and a custody event is written on the device's timeline. On PostgreSQL triggers
refuse the same things from raw SQL (disposals migrations 0003 and 0004).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from accounts.roles import Role, user_roles
from core.errors import DomainError
from devices.models import Device, DeviceEvent
from disposals.models import DisposalCase, RouteDecision, RouteOverrideSignOff
from disposals.services.custody import (
    CaseStatus,
    cases_transition,
    custody_events,
    lock_cases,
    require_in_scope,
    require_status,
)

# Who may decide an override away from a suggested resale, and how the decision
# records their role.
SIGN_OFF_ROLES = {Role.FINANCE: "finance", Role.COMMERCIAL: "commercial"}
Outcome = RouteOverrideSignOff.Outcome
REASON_MAX = 500


def _sign_off_role(approver) -> str | None:
    """The role under which ``approver`` may decide (finance first), or None. Held
    roles only: being a superuser does not make anyone a finance officer."""
    held = user_roles(approver)
    return next((slug for role, slug in SIGN_OFF_ROLES.items() if role in held), None)


def _review(
    *,
    case_ids: Iterable[int],
    approver,
    outcome: str,
    reason: str,
    source: str,
    now: dt.datetime | None,
) -> list[RouteOverrideSignOff]:
    """Sign off or reject pending overrides, set-based; nothing is written unless
    every case passes (see the public functions below for the rule)."""
    verb = "reject" if outcome == Outcome.REJECTED else "sign off"
    if approver is None or not getattr(approver, "is_authenticated", False):
        raise DomainError(f"Sign in to {verb} a route override.", code="role_not_allowed")
    role = _sign_off_role(approver)
    if role is None:
        raise DomainError(
            f"Only a finance or commercial officer can {verb} an override of a suggested resale.",
            field="approver",
            code="role_not_allowed",
        )
    reason = (reason or "").strip()
    if outcome == Outcome.REJECTED and not reason:
        raise DomainError(
            "Enter the reason for rejecting the override.", field="reason", code="reason_required"
        )
    if len(reason) > REASON_MAX:
        raise DomainError(f"The reason must be {REASON_MAX} characters or fewer.", field="reason")
    now = now or timezone.now()
    with transaction.atomic():
        cases = lock_cases(case_ids)
        if not cases:
            raise DomainError("Select at least one case.", field="cases")
        require_in_scope(
            actor=approver, case_ids=[c.pk for c in cases], action=f"{verb} the override"
        )
        decisions = {
            d.case_id: d
            for d in RouteDecision.objects.filter(case__in=cases, needs_sign_off=True).exclude(
                sign_off__isnull=False
            )
        }
        missing = [c for c in cases if c.pk not in decisions]
        if missing:
            raise DomainError(
                "No route override awaits sign-off for: "
                + ", ".join(str(c.device) for c in missing[:10]),
                field="cases",
                code="wrong_step",
            )
        own = [c for c in cases if decisions[c.pk].decided_by_id == approver.pk]
        if own:
            raise DomainError(
                "You asked for the override of "
                + ", ".join(str(c.device) for c in own[:10])
                + f"; another finance or commercial officer must {verb} it.",
                field="approver",
                code="same_person",
            )
        require_status(cases, CaseStatus.VALUE_ASSESSED, f"{verb} the override")
        reviews = [
            RouteOverrideSignOff(
                decision=decisions[c.pk],
                outcome=outcome,
                reason=reason if outcome == Outcome.REJECTED else "",
                signed_off_at=now,
                signed_off_by=approver,
                signed_off_as=role,
            )
            for c in cases
        ]
        for review in reviews:
            review.full_clean(exclude=["decision", "signed_off_by"], validate_constraints=False)
        RouteOverrideSignOff.objects.bulk_create(reviews)
        # Signed off: the route asked for. Rejected: the suggested route stands.
        route_of = {
            c.pk: (
                decisions[c.pk].suggested_route
                if outcome == Outcome.REJECTED
                else decisions[c.pk].route
            )
            for c in cases
        }
        by_route: dict[str, list[int]] = defaultdict(list)
        for case_id, chosen in route_of.items():
            by_route[chosen].append(case_id)
        for chosen, ids in by_route.items():
            cases_transition(
                case_ids=ids,
                from_status=CaseStatus.VALUE_ASSESSED,
                to_status=CaseStatus.ROUTE_CHOSEN,
                now=now,
                route=chosen,
            )
        detail = {
            c.device_id: {
                "step": "route_chosen" if outcome == Outcome.SIGNED_OFF else "override_rejected",
                "route": route_of[c.pk],
                "suggested_route": decisions[c.pk].suggested_route,
                "requested_route": decisions[c.pk].route,
                "override_reason": decisions[c.pk].override_reason,
                "requested_by": _username(decisions[c.pk].decided_by),
                "signed_off_as" if outcome == Outcome.SIGNED_OFF else "rejected_as": role,
                **({"rejection_reason": reason} if outcome == Outcome.REJECTED else {}),
            }
            for c in cases
        }
        custody_events(
            device_ids=detail,
            kind=DeviceEvent.Kind.DISPOSAL,
            actor=approver,
            source=source,
            details=detail.get,
            now=now,
            status=Device.Status.SANITISED,
        )
    return list(
        RouteOverrideSignOff.objects.filter(decision__case__in=cases)
        .select_related("decision")
        .order_by("decision__case_id")
    )


def _username(user) -> str:
    return user.get_username() if user is not None else ""


def route_overrides_sign_off(
    *,
    case_ids: Iterable[int],
    approver,
    source: str = "web",
    now: dt.datetime | None = None,
) -> list[RouteOverrideSignOff]:
    """Sign off pending overrides away from a suggested resale, set-based; each case
    then moves on (value assessed -> route chosen) on its requested route.

    Rule (business case: residual value is assessed before the route is chosen;
    resale where value exists): only a finance or commercial officer may sign off
    (``role_not_allowed``), never the person who asked for the override
    (``same_person``), and only for devices in their scope (``out_of_scope``).
    Nothing is written unless every case passes.
    """
    return _review(
        case_ids=case_ids,
        approver=approver,
        outcome=Outcome.SIGNED_OFF,
        reason="",
        source=source,
        now=now,
    )


def route_overrides_reject(
    *,
    case_ids: Iterable[int],
    approver,
    reason: str,
    source: str = "web",
    now: dt.datetime | None = None,
) -> list[RouteOverrideSignOff]:
    """Reject pending overrides away from a suggested resale, set-based: each device
    keeps its suggested route (resale) and its case moves on (value assessed -> route
    chosen) on it. The reason is required (``reason_required``) and recorded.

    The same rule as a sign-off: only a finance or commercial officer
    (``role_not_allowed``), never the requester (``same_person``), only in scope
    (``out_of_scope``); nothing is written unless every case passes.
    """
    return _review(
        case_ids=case_ids,
        approver=approver,
        outcome=Outcome.REJECTED,
        reason=reason,
        source=source,
        now=now,
    )


def _one_case_id(case: DisposalCase | None, decision: RouteDecision | None) -> int:
    if (case is None) == (decision is None):
        raise DomainError("Name the case or the route decision to decide.", field="cases")
    return case.pk if case is not None else decision.case_id


def route_override_sign_off(
    *,
    approver,
    case: DisposalCase | None = None,
    decision: RouteDecision | None = None,
    source: str = "web",
) -> RouteOverrideSignOff:
    """Sign off one pending override, named by its ``case`` or its ``decision``
    (see ``route_overrides_sign_off`` for the rule)."""
    case_id = _one_case_id(case, decision)
    return route_overrides_sign_off(case_ids=[case_id], approver=approver, source=source)[0]


def route_override_reject(
    *,
    approver,
    reason: str,
    case: DisposalCase | None = None,
    decision: RouteDecision | None = None,
    source: str = "web",
) -> RouteOverrideSignOff:
    """Reject one pending override, named by its ``case`` or its ``decision``
    (see ``route_overrides_reject`` for the rule)."""
    case_id = _one_case_id(case, decision)
    return route_overrides_reject(
        case_ids=[case_id], approver=approver, reason=reason, source=source
    )[0]
