"""Residual value and routes: what a sanitised device is worth, and where it goes.

Business case: "we will review whether there is any residual monetary value before
deciding to" donate. Resale where there is value, reuse for digital inclusion where
the grade allows, WEEE recycling otherwise, destruction where policy says (a failed
wipe is routed to destruction by ``disposals.services.sanitisation``).

Overriding a suggested resale gives value away, so it is a request until a finance
or commercial officer other than the requester signs it off or rejects it
(``disposals.services.overrides``); overrides away from other suggestions need only a
reason.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.utils import timezone

from core.errors import DomainError
from devices.models import Device, DeviceEvent
from disposals.models import (
    REUSABLE_GRADES,
    Grade,
    ResidualValueAssessment,
    ResidualValueRule,
    Route,
    RouteDecision,
)
from disposals.services.custody import (
    PENNY,
    CaseStatus,
    cases_transition,
    custody_events,
    lock_cases,
    passing_records,
    require_in_scope,
    require_passing,
    require_status,
)


def residual_value_rule_current(*, on_date: dt.date) -> ResidualValueRule:
    """The rule in force on ``on_date`` (the earliest rule if none has started by then);
    a default rule is created if finance has set none."""
    rule = ResidualValueRule.objects.filter(effective_from__lte=on_date).first()
    if rule is None:
        rule = ResidualValueRule.objects.filter(effective_from__gt=on_date).last()
    if rule is None:
        rule = ResidualValueRule(name="Default rule", effective_from=dt.date(2000, 1, 1))
        rule.full_clean()
        rule.save()
    return rule


def residual_value_estimate(
    *,
    rule: ResidualValueRule,
    category: str,
    unit_price: Decimal | None,
    purchase_date: dt.date | None,
    grade: str,
    on_date: dt.date,
) -> tuple[Decimal, Decimal | None]:
    """``(estimated value, age in years)`` by the documented rule (see ResidualValueRule)."""
    if unit_price is None or purchase_date is None:
        return Decimal("0.00"), None
    age = (Decimal((on_date - purchase_date).days) / Decimal("365.25")).quantize(PENNY)
    age = max(age, Decimal(0))
    # Declining balance: each year keeps (1 - d) of the year before, so old kit keeps a
    # little value (as the resale market shows) and the floor cuts off the tail.
    remaining = (1 - rule.depreciation_percent_per_year / 100) ** age if age else Decimal(1)
    value = unit_price * rule.base_percent(category) / 100 * remaining * rule.multiplier(grade)
    value = value.quantize(PENNY, rounding=ROUND_HALF_UP)
    if value < rule.floor:
        value = Decimal("0.00")
    return value, age


def route_suggest(
    *, estimated_value: Decimal, grade: str, threshold: Decimal, policy_destruction: bool = False
) -> tuple[str, str]:
    """The suggested route and its reason (reasons carry no figures: they are OFFICIAL).

    Destruction where policy requires it; resale when the value reaches the
    threshold; reuse for digital inclusion when the grade allows; WEEE recycling
    otherwise.
    """
    if policy_destruction:
        return Route.DESTRUCTION, "Security policy requires destruction."
    if estimated_value >= threshold and grade != Grade.SCRAP:
        return Route.RESALE, "Estimated value reaches the resale threshold."
    if grade in REUSABLE_GRADES:
        return (
            Route.REUSE,
            f"Below the resale threshold; grade {grade} is fit to donate for digital inclusion.",
        )
    return (
        Route.RECYCLING,
        f"Below the resale threshold and grade {grade} is not fit to reuse: WEEE recycling.",
    )


def assessments_record(
    *,
    case_ids: Iterable[int],
    actor,
    grade: str | None = None,
    grades: Mapping[int, str] | None = None,
    policy_destruction: bool = False,
    source: str = "web",
    on_date: dt.date | None = None,
    now: dt.datetime | None = None,
) -> list[ResidualValueAssessment]:
    """Assess the residual value of sanitised devices, set-based, by the rule in force.

    Each device is graded by the engineer: ``grades`` maps case id to grade (the
    board, one grade per device), or ``grade`` applies one grade to every case. There
    is no default grade: a case without one is refused, naming the device, so an
    old, often-repaired laptop is never sent to reuse because a form said "A".

    Gate: only a case with a passing sanitisation record can be assessed
    (business case: value is reviewed after sanitisation, before donation).
    """
    if grades is None and grade not in Grade.values:
        raise DomainError("Choose a condition grade.", field="grade")
    now = now or timezone.now()
    on_date = on_date or timezone.localdate(now)
    with transaction.atomic():
        cases = lock_cases(case_ids)
        if not cases:
            raise DomainError("Select at least one case.", field="cases")
        graded = {c.pk: (grades.get(c.pk) if grades is not None else grade) for c in cases}
        ungraded = [c for c in cases if graded[c.pk] not in Grade.values]
        if ungraded:
            first = ungraded[0]
            raise DomainError(
                "; ".join(f"Grade for {c.device}: choose a condition grade" for c in ungraded[:10]),
                field=f"grade_{first.pk}" if grades is not None else "grade",
                code="grade_required",
            )
        require_in_scope(actor=actor, case_ids=[c.pk for c in cases], action="assess")
        require_status(cases, CaseStatus.SANITISED, "assess")
        passing = passing_records([c.pk for c in cases])
        require_passing(cases, passing, "assess")
        rule = residual_value_rule_current(on_date=on_date)
        models = {
            d.pk: d
            for d in Device.objects.filter(pk__in=[c.device_id for c in cases]).select_related(
                "device_model"
            )
        }
        assessments = []
        for case in cases:
            device = models[case.device_id]
            value, age = residual_value_estimate(
                rule=rule,
                category=device.device_model.category,
                unit_price=device.device_model.unit_price,
                purchase_date=device.purchase_date,
                grade=graded[case.pk],
                on_date=on_date,
            )
            assessments.append(
                ResidualValueAssessment(
                    case=case,
                    sanitisation=passing[case.pk],
                    grade=graded[case.pk],
                    rule=rule,
                    unit_price=device.device_model.unit_price,
                    age_years=age,
                    estimated_value=value,
                    policy_destruction=policy_destruction,
                    assessed_at=now,
                    assessed_by=actor,
                )
            )
        ResidualValueAssessment.objects.bulk_create(assessments)
        cases_transition(
            case_ids=[c.pk for c in cases],
            from_status=CaseStatus.SANITISED,
            to_status=CaseStatus.VALUE_ASSESSED,
            now=now,
        )
        # The value itself is commercial: the custody event carries only the grade.
        details = {
            c.device_id: {
                "step": "value_assessed",
                "grade": graded[c.pk],
                "policy_destruction": policy_destruction,
            }
            for c in cases
        }
        custody_events(
            device_ids=details,
            kind=DeviceEvent.Kind.DISPOSAL,
            actor=actor,
            source=source,
            details=details.get,
            now=now,
            status=Device.Status.SANITISED,
        )
    return list(ResidualValueAssessment.objects.filter(case__in=cases).order_by("case_id"))


def routes_decide(
    *,
    case_ids: Iterable[int],
    actor,
    route: str | None = None,
    override_reason: str = "",
    source: str = "web",
    now: dt.datetime | None = None,
) -> list[RouteDecision]:
    """Choose the route for assessed devices: the suggestion, or an override.

    Gate: no route without a passing sanitisation record and an assessment.
    Overriding the suggested route needs a reason; who, when, the suggestion and
    the choice are all recorded.

    Overriding a suggested *resale* (to reuse, recycling or destruction) is only a
    request: the business case assesses residual value before the route is chosen
    and sells where value exists, so giving that value away needs a finance or
    commercial officer's sign-off (``route_override_sign_off``) or ends in their
    rejection (``route_override_reject``: the device keeps the suggested resale).
    Until then the decision is recorded with ``needs_sign_off`` and the case stays
    value-assessed, shown as awaiting finance sign-off. A case with a pending request
    cannot be routed again.
    """
    override_reason = override_reason.strip()
    if route is not None and route not in Route.values:
        raise DomainError("Choose a route.", field="route")
    now = now or timezone.now()
    with transaction.atomic():
        cases = lock_cases(case_ids)
        if not cases:
            raise DomainError("Select at least one case.", field="cases")
        require_in_scope(actor=actor, case_ids=[c.pk for c in cases], action="choose a route")
        passing = passing_records([c.pk for c in cases])
        require_passing(cases, passing, "choose a route")
        require_status(cases, CaseStatus.VALUE_ASSESSED, "choose a route")
        pending = RouteDecision.objects.filter(case__in=cases).select_related("case__device")
        if pending:
            raise DomainError(
                "Already awaiting finance sign-off of a route override: "
                + ", ".join(str(d.case.device) for d in pending[:10]),
                field="cases",
                code="awaiting_sign_off",
            )
        assessments = {
            a.case_id: a
            for a in ResidualValueAssessment.objects.filter(case__in=cases).select_related("rule")
        }
        decisions = []
        for case in cases:
            assessment = assessments[case.pk]
            suggested, reason = route_suggest(
                estimated_value=assessment.estimated_value,
                grade=assessment.grade,
                threshold=assessment.rule.resale_threshold,
                policy_destruction=assessment.policy_destruction,
            )
            chosen = route or suggested
            if chosen != suggested and not override_reason:
                raise DomainError(
                    f"{case.device}: the suggested route is {Route(suggested).label}; "
                    "give a reason to choose another.",
                    field="override_reason",
                    code="reason_required",
                )
            decision = RouteDecision(
                case=case,
                sanitisation=passing[case.pk],
                assessment=assessment,
                suggested_route=suggested,
                suggestion_reason=reason,
                route=chosen,
                override_reason=override_reason if chosen != suggested else "",
                needs_sign_off=suggested == Route.RESALE and chosen != Route.RESALE,
                decided_at=now,
                decided_by=actor,
            )
            decision.full_clean(
                exclude=["case", "sanitisation", "assessment", "decided_by"],
                validate_constraints=False,
            )
            decisions.append(decision)
        RouteDecision.objects.bulk_create(decisions)
        by_route: dict[str, list[int]] = defaultdict(list)
        for d in decisions:
            if not d.needs_sign_off:
                by_route[d.route].append(d.case.pk)
        for chosen, ids in by_route.items():
            cases_transition(
                case_ids=ids,
                from_status=CaseStatus.VALUE_ASSESSED,
                to_status=CaseStatus.ROUTE_CHOSEN,
                now=now,
                route=chosen,
            )
        detail = {
            d.case.device_id: {
                "step": "route_override_requested" if d.needs_sign_off else "route_chosen",
                "route": d.route,
                "suggested_route": d.suggested_route,
                "reason": d.suggestion_reason,
                **({"override_reason": d.override_reason} if d.overridden else {}),
            }
            for d in decisions
        }
        custody_events(
            device_ids=detail,
            kind=DeviceEvent.Kind.DISPOSAL,
            actor=actor,
            source=source,
            details=detail.get,
            now=now,
            status=Device.Status.SANITISED,
        )
    return list(RouteDecision.objects.filter(case__in=cases).order_by("case_id"))


def residual_value_rule_create(*, rule: ResidualValueRule, actor) -> ResidualValueRule:
    """Finance tunes the residual-value rule by adding a new one from a date: earlier
    assessments keep the rule they used, so each stays explainable. Add-only: a
    stored rule is never changed (on PostgreSQL a trigger refuses it too)."""
    if rule.pk is not None:
        raise DomainError(
            "A residual-value rule is never changed once saved: add a new rule from a "
            "later date instead.",
            field="effective_from",
            code="add_only",
        )
    if ResidualValueRule.objects.filter(effective_from=rule.effective_from).exists():
        raise DomainError(
            f"A rule already starts on {rule.effective_from:%d %B %Y}; choose another date.",
            field="effective_from",
        )
    rule.full_clean()
    rule._history_user = actor  # simple-history records who set it
    rule.save()
    return rule
