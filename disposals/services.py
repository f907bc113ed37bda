"""Writes for disposals. The pages, the API, the admin and the demo all call these.

Every gate lives here, once:

* a device is sanitised before anything else, and nothing is assessed, routed or
  dispatched without a passing sanitisation record (business case: devices are
  "digitally sanitised in line with MPS security procedures and then repurposed");
* residual value is assessed before the route is chosen ("we will review whether
  there is any residual monetary value before deciding to do so again");
* resale where there is value, reuse for digital inclusion where the grade allows,
  WEEE recycling otherwise, destruction after a failed wipe or where policy says;
* disposal records are never deleted.

Work over many devices is set-based: rows are locked in pk order, moved with a
compare-and-swap ``update()`` whose count is checked, and events are bulk-created.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.errors import DomainError
from devices.models import ALLOWED_TRANSITIONS, Device, DeviceEvent
from disposals.models import (
    CASE_TRANSITIONS,
    PARTNER_KINDS_FOR_ROUTE,
    REUSABLE_GRADES,
    Consignment,
    DisposalCase,
    Grade,
    Partner,
    ResidualValueAssessment,
    ResidualValueRule,
    Route,
    RouteDecision,
    SanitisationRecord,
)

# Retention is a policy, not a cascade: records are kept at least this long after
# disposal (then archived by a separate, audited process; never deleted by the app).
RETENTION_YEARS = getattr(settings, "DISPOSALS_RETENTION_YEARS", 7)
CERTIFICATE_MAX_BYTES = getattr(settings, "DISPOSALS_CERTIFICATE_MAX_BYTES", 10 * 1024 * 1024)
# Real content types by their first bytes; the file name's extension is not trusted.
CERTIFICATE_SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)
PENNY = Decimal("0.01")
CaseStatus = DisposalCase.Status


# ---------------------------------------------------------------------------
# Moving statuses, set-based
# ---------------------------------------------------------------------------


def cases_transition(
    *,
    case_ids: list[int],
    from_status: str,
    to_status: str,
    now: dt.datetime,
    **updates: Any,
) -> int:
    """The one mover of disposal-case statuses: ``from_status`` -> ``to_status``
    for every case in ``case_ids``, if ``CASE_TRANSITIONS`` allows it.

    A compare-and-swap ``update()``: if any case is no longer in ``from_status``
    (someone else moved it) nothing is kept, the caller's transaction rolls back.
    """
    if to_status not in CASE_TRANSITIONS.get(from_status, frozenset()):
        labels = dict(CaseStatus.choices)
        raise DomainError(
            f"A disposal case cannot move from {labels[from_status]} to {labels[to_status]}.",
            field="status",
            code="transition_not_allowed",
        )
    ids = sorted(set(case_ids))
    if not ids:
        return 0
    moved = DisposalCase.objects.filter(pk__in=ids, status=from_status).update(
        status=to_status, status_changed_at=now, **updates
    )
    if moved != len(ids):
        raise DomainError(
            "Some of the selected cases changed while you were working; reload and try again.",
            code="conflict",
        )
    return moved


def case_transition(*, case: DisposalCase, to_status: str, **updates: Any) -> DisposalCase:
    """Move one case (through ``cases_transition``)."""
    with transaction.atomic():
        cases_transition(
            case_ids=[case.pk],
            from_status=case.status,
            to_status=to_status,
            now=timezone.now(),
            **updates,
        )
        case.refresh_from_db()
    return case


def _devices_move(
    *,
    moves: list[tuple[int, str]],
    to_status: str,
    kind: str,
    actor,
    source: str,
    details: dict[int, dict],
    now: dt.datetime,
) -> None:
    """Move devices (``(device_id, from_status)`` pairs) to ``to_status`` set-based,
    checking ``devices.models.ALLOWED_TRANSITIONS`` exactly as ``device_transition``
    does, and write one event each. A compare-and-swap on status guards races."""
    by_from: dict[str, list[int]] = defaultdict(list)
    for device_id, from_status in moves:
        by_from[from_status].append(device_id)
    labels = dict(Device.Status.choices)
    for from_status, ids in by_from.items():
        if to_status not in ALLOWED_TRANSITIONS.get(from_status, frozenset()):
            raise DomainError(
                f"{len(ids)} device(s) cannot move from {labels[from_status]} "
                f"to {labels[to_status]}.",
                field="status",
                code="transition_not_allowed",
            )
        moved = Device.objects.filter(pk__in=ids, status=from_status).update(
            status=to_status, version=F("version") + 1, updated_at=now
        )
        if moved != len(ids):
            raise DomainError(
                "Some devices changed status while you were working; reload and try again.",
                code="conflict",
            )
    DeviceEvent.objects.bulk_create(
        DeviceEvent(
            device_id=device_id,
            kind=kind,
            occurred_at=now,
            recorded_by=actor,
            source=source,
            from_status=from_status,
            to_status=to_status,
            details=details.get(device_id, {}),
        )
        for device_id, from_status in moves
    )
    # A queryset update() skips simple-history's signal: add the devices' history rows
    # here, in bulk (one read, one insert), as devices.services does for its updates.
    Device.history.bulk_history_create(
        list(Device.objects.filter(pk__in=[device_id for device_id, _ in moves])),
        update=True,
        default_user=actor,
        default_change_reason=source or "disposals",
        default_date=now,
    )


def _events(
    *, device_ids: Iterable[int], kind: str, actor, source: str, details, now, status: str = ""
) -> None:
    """Custody events for steps that do not change the device's own status."""
    DeviceEvent.objects.bulk_create(
        DeviceEvent(
            device_id=device_id,
            kind=kind,
            occurred_at=now,
            recorded_by=actor,
            source=source,
            from_status=status,
            to_status=status,
            details=details(device_id) if callable(details) else details,
        )
        for device_id in device_ids
    )


def _lock_cases(case_ids: Iterable[int]) -> list[DisposalCase]:
    """Lock cases in pk order (one query) so concurrent bulk actions cannot deadlock."""
    return list(
        DisposalCase.objects.select_for_update()
        .filter(pk__in=sorted(set(case_ids)))
        .select_related("device")
        .order_by("pk")
    )


def _require_status(cases: list[DisposalCase], status: str, action: str) -> None:
    wrong = [c for c in cases if c.status != status]
    if wrong:
        names = ", ".join(str(c.device) for c in wrong[:10])
        more = f" and {len(wrong) - 10} more" if len(wrong) > 10 else ""
        raise DomainError(
            f"Cannot {action}: {names}{more} not {dict(CaseStatus.choices)[status].lower()}.",
            field="cases",
            code="wrong_step",
        )


# ---------------------------------------------------------------------------
# Opening cases
# ---------------------------------------------------------------------------

OPENABLE_DEVICE_STATUSES = (Device.Status.RETURNED, Device.Status.AWAITING_SANITISATION)


def disposal_cases_open(
    *, device_ids: Iterable[int], actor=None, source: str = "web"
) -> list[DisposalCase]:
    """Open a disposal case for each returned device, set-based, booking it for
    sanitisation (device: returned -> awaiting sanitisation).

    Only returned (or already awaiting-sanitisation) devices without a case may be
    opened; otherwise nothing is written and the error names the devices.
    """
    ids = sorted(set(device_ids))
    if not ids:
        raise DomainError("Select at least one device.", field="devices")
    now = timezone.now()
    with transaction.atomic():
        devices = list(
            Device.objects.select_for_update()
            .filter(pk__in=ids)
            .order_by("pk")
            .only("id", "status", "asset_tag", "serial_number", "manufacturer_id")
        )
        if len(devices) != len(ids):
            raise DomainError("Some selected devices do not exist.", field="devices")
        wrong = [d for d in devices if d.status not in OPENABLE_DEVICE_STATUSES]
        if wrong:
            raise DomainError(
                "Only returned devices can enter disposal: "
                + ", ".join(f"{d} ({d.get_status_display()})" for d in wrong[:10]),
                field="devices",
            )
        already = set(
            DisposalCase.objects.filter(device_id__in=ids).values_list("device_id", flat=True)
        )
        if already:
            names = [str(d) for d in devices if d.pk in already]
            raise DomainError(
                "Already in disposal: " + ", ".join(names[:10]), field="devices", code="exists"
            )
        cases = [
            DisposalCase(
                device_id=d.pk,
                status=CaseStatus.AWAITING_SANITISATION,
                opened_at=now,
                opened_by=actor,
                status_changed_at=now,
            )
            for d in devices
        ]
        DisposalCase.objects.bulk_create(cases)
        returned = [(d.pk, d.status) for d in devices if d.status == Device.Status.RETURNED]
        step = {"step": "case_opened"}
        if returned:
            _devices_move(
                moves=returned,
                to_status=Device.Status.AWAITING_SANITISATION,
                kind=DeviceEvent.Kind.DISPOSAL,
                actor=actor,
                source=source,
                details={pk: step for pk, _ in returned},
                now=now,
            )
        waiting = [d.pk for d in devices if d.status != Device.Status.RETURNED]
        _events(
            device_ids=waiting,
            kind=DeviceEvent.Kind.DISPOSAL,
            actor=actor,
            source=source,
            details=step,
            now=now,
            status=Device.Status.AWAITING_SANITISATION,
        )
        return list(DisposalCase.objects.filter(device_id__in=ids).order_by("pk"))


# ---------------------------------------------------------------------------
# Sanitisation
# ---------------------------------------------------------------------------


@dataclass
class SanitisationInput:
    """One sanitisation result to record. ``device_id`` must already be resolved
    (and scope-checked) by the caller."""

    device_id: int
    method: str
    standard: str
    tool: str
    operator: str
    verifier: str
    performed_at: dt.datetime
    result: str
    certificate_ref: str
    tool_version: str = ""
    label: str = ""  # how the caller named the device, for messages


@dataclass
class ItemResult:
    index: int
    label: str
    ok: bool
    record_id: int | None = None
    result: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)


def _same_person(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


def sanitisation_records_record(
    *,
    items: list[SanitisationInput],
    actor=None,
    source: str = "web",
    all_or_nothing: bool = False,
) -> list[ItemResult]:
    """Record sanitisation results for many devices at once (pages and wipe tools).

    Rules (business case: sanitised "in line with MPS security procedures"):
    the verifier is a different person from the operator; a device gets one
    result, while it awaits sanitisation; a returned device without a case has
    one opened first. A pass moves the device to sanitised; a fail routes it to
    physical destruction (the case's route becomes destruction, recorded as the
    suggested route with its reason).

    Each item gets its own result. With ``all_or_nothing`` any bad item refuses
    the whole batch (the pages); otherwise good items are kept (the API).
    """
    now = timezone.now()
    results: list[ItemResult] = [
        ItemResult(index=i, label=item.label or str(item.device_id), ok=True)
        for i, item in enumerate(items)
    ]
    records: list[tuple[int, SanitisationRecord]] = []
    with transaction.atomic():
        device_ids = sorted({item.device_id for item in items})
        # Open cases for returned devices that have none (wipe tools see devices first).
        have_case = set(
            DisposalCase.objects.filter(device_id__in=device_ids).values_list(
                "device_id", flat=True
            )
        )
        openable = set(
            Device.objects.filter(
                pk__in=[d for d in device_ids if d not in have_case],
                status__in=OPENABLE_DEVICE_STATUSES,
            ).values_list("pk", flat=True)
        )
        if openable:
            disposal_cases_open(device_ids=openable, actor=actor, source=source)
        cases = {
            c.device_id: c
            for c in _lock_cases(
                DisposalCase.objects.filter(device_id__in=device_ids).values_list("pk", flat=True)
            )
        }
        seen: set[int] = set()
        for item, res in zip(items, results, strict=True):
            errors: dict[str, list[str]] = {}
            case = cases.get(item.device_id)
            if case is None:
                errors["device"] = ["This device is not returned or in disposal."]
            elif item.device_id in seen:
                errors["device"] = ["This device appears more than once in the batch."]
            elif case.status != CaseStatus.AWAITING_SANITISATION:
                errors["device"] = [
                    f"Already has a sanitisation result (case is {case.get_status_display()})."
                ]
            if item.operator.strip() and _same_person(item.operator, item.verifier):
                errors["verifier"] = ["The verifier must be a different person from the operator."]
            if item.performed_at and item.performed_at > now + dt.timedelta(minutes=5):
                errors["performed_at"] = ["The sanitisation cannot be in the future."]
            record = SanitisationRecord(
                case=case,
                method=item.method,
                standard=item.standard.strip(),
                tool=item.tool.strip(),
                tool_version=item.tool_version.strip(),
                operator=item.operator.strip(),
                verifier=item.verifier.strip(),
                performed_at=item.performed_at,
                result=item.result,
                certificate_ref=item.certificate_ref.strip(),
                recorded_at=now,
                recorded_by=actor,
                source=source,
            )
            try:
                # Foreign keys were resolved above; skip their per-row existence queries.
                record.full_clean(exclude=["case", "recorded_by"], validate_constraints=False)
            except ValidationError as exc:
                for name, messages in exc.message_dict.items():
                    errors.setdefault(name, []).extend(messages)
            seen.add(item.device_id)
            if errors:
                res.ok = False
                res.errors = errors
            else:
                res.result = item.result
                records.append((res.index, record))
        if all_or_nothing and not all(r.ok for r in results):
            transaction.set_rollback(True)
            return results
        if not records:
            return results
        created = SanitisationRecord.objects.bulk_create([r for _, r in records])
        if not all(r.pk for r in created):  # SQLite without RETURNING: read ids back
            by_case = dict(
                SanitisationRecord.objects.filter(
                    case_id__in=[r.case_id for r in created]
                ).values_list("case_id", "pk")
            )
            for r in created:
                r.pk = by_case[r.case_id]
        for (index, _), record in zip(records, created, strict=True):
            results[index].record_id = record.pk
        passed = [r for r in created if r.result == SanitisationRecord.Result.PASS]
        failed = [r for r in created if r.result == SanitisationRecord.Result.FAIL]
        _apply_sanitisation_results(passed, failed, cases, actor, source, now)
    return results


def _sanitisation_details(record: SanitisationRecord) -> dict:
    return {
        "step": "sanitisation",
        "result": record.result,
        "method": record.method,
        "standard": record.standard,
        "tool": f"{record.tool} {record.tool_version}".strip(),
        "operator": record.operator,
        "verifier": record.verifier,
        "performed_at": record.performed_at.isoformat(),
        "certificate_ref": record.certificate_ref,
        "record_id": record.pk,
    }


def _apply_sanitisation_results(passed, failed, cases, actor, source, now) -> None:
    case_by_id = {c.pk: c for c in cases.values()}
    if passed:
        cases_transition(
            case_ids=[r.case_id for r in passed],
            from_status=CaseStatus.AWAITING_SANITISATION,
            to_status=CaseStatus.SANITISED,
            now=now,
        )
        _devices_move(
            moves=[
                (case_by_id[r.case_id].device_id, Device.Status.AWAITING_SANITISATION)
                for r in passed
            ],
            to_status=Device.Status.SANITISED,
            kind=DeviceEvent.Kind.SANITISATION,
            actor=actor,
            source=source,
            details={case_by_id[r.case_id].device_id: _sanitisation_details(r) for r in passed},
            now=now,
        )
    if failed:
        failed_case_ids = [r.case_id for r in failed]
        cases_transition(
            case_ids=failed_case_ids,
            from_status=CaseStatus.AWAITING_SANITISATION,
            to_status=CaseStatus.SANITISATION_FAILED,
            now=now,
        )
        details = {case_by_id[r.case_id].device_id: _sanitisation_details(r) for r in failed}
        _events(
            device_ids=details,
            kind=DeviceEvent.Kind.SANITISATION,
            actor=actor,
            source=source,
            details=details.get,
            now=now,
            status=Device.Status.AWAITING_SANITISATION,
        )
        # A failed wipe routes the device to physical destruction, straight away:
        # it must never reach assessment or resale.
        reason = "Sanitisation failed: the device must be physically destroyed."
        RouteDecision.objects.bulk_create(
            RouteDecision(
                case_id=case_id,
                suggested_route=Route.DESTRUCTION,
                suggestion_reason=reason,
                route=Route.DESTRUCTION,
                decided_at=now,
                decided_by=actor,
            )
            for case_id in failed_case_ids
        )
        cases_transition(
            case_ids=failed_case_ids,
            from_status=CaseStatus.SANITISATION_FAILED,
            to_status=CaseStatus.ROUTE_CHOSEN,
            now=now,
            route=Route.DESTRUCTION,
        )
        _events(
            device_ids=details,
            kind=DeviceEvent.Kind.DISPOSAL,
            actor=actor,
            source=source,
            details={"step": "route_chosen", "route": Route.DESTRUCTION, "reason": reason},
            now=now,
            status=Device.Status.AWAITING_SANITISATION,
        )


# ---------------------------------------------------------------------------
# Residual value and routes
# ---------------------------------------------------------------------------


def residual_value_rule_current(*, on_date: dt.date) -> ResidualValueRule:
    """The rule in force on ``on_date``; a default one is created if finance has set none."""
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


def _passing_records(case_ids: list[int]) -> dict[int, SanitisationRecord]:
    """The passing sanitisation record of each case that has one (one query)."""
    return {
        r.case_id: r
        for r in SanitisationRecord.objects.filter(
            case_id__in=case_ids, result=SanitisationRecord.Result.PASS
        ).order_by("case_id", "performed_at", "id")
    }


def _require_passing(cases: list[DisposalCase], passing: dict, action: str) -> None:
    missing = [c for c in cases if c.pk not in passing]
    if missing:
        raise DomainError(
            f"Cannot {action} without a passing sanitisation record: "
            + ", ".join(str(c.device) for c in missing[:10]),
            field="cases",
            code="not_sanitised",
        )


def assessments_record(
    *,
    case_ids: Iterable[int],
    grade: str,
    actor,
    policy_destruction: bool = False,
    source: str = "web",
    on_date: dt.date | None = None,
) -> list[ResidualValueAssessment]:
    """Assess the residual value of sanitised devices, set-based, by the rule in force.

    Gate: only a case with a passing sanitisation record can be assessed
    (business case: value is reviewed after sanitisation, before donation).
    """
    if grade not in Grade.values:
        raise DomainError("Choose a condition grade.", field="grade")
    now = timezone.now()
    on_date = on_date or timezone.localdate()
    with transaction.atomic():
        cases = _lock_cases(case_ids)
        if not cases:
            raise DomainError("Select at least one case.", field="cases")
        _require_status(cases, CaseStatus.SANITISED, "assess")
        passing = _passing_records([c.pk for c in cases])
        _require_passing(cases, passing, "assess")
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
                grade=grade,
                on_date=on_date,
            )
            assessments.append(
                ResidualValueAssessment(
                    case=case,
                    sanitisation=passing[case.pk],
                    grade=grade,
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
        _events(
            device_ids=[c.device_id for c in cases],
            kind=DeviceEvent.Kind.DISPOSAL,
            actor=actor,
            source=source,
            details={
                "step": "value_assessed",
                "grade": grade,
                "policy_destruction": policy_destruction,
            },
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
) -> list[RouteDecision]:
    """Choose the route for assessed devices: the suggestion, or an override.

    Gate: no route without a passing sanitisation record and an assessment.
    Overriding the suggested route needs a reason; who, when, the suggestion and
    the choice are all recorded.
    """
    override_reason = override_reason.strip()
    if route is not None and route not in Route.values:
        raise DomainError("Choose a route.", field="route")
    now = timezone.now()
    with transaction.atomic():
        cases = _lock_cases(case_ids)
        if not cases:
            raise DomainError("Select at least one case.", field="cases")
        passing = _passing_records([c.pk for c in cases])
        _require_passing(cases, passing, "choose a route")
        _require_status(cases, CaseStatus.VALUE_ASSESSED, "choose a route")
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
                "step": "route_chosen",
                "route": d.route,
                "suggested_route": d.suggested_route,
                "reason": d.suggestion_reason,
                **({"override_reason": d.override_reason} if d.overridden else {}),
            }
            for d in decisions
        }
        _events(
            device_ids=detail,
            kind=DeviceEvent.Kind.DISPOSAL,
            actor=actor,
            source=source,
            details=detail.get,
            now=now,
            status=Device.Status.SANITISED,
        )
    return list(RouteDecision.objects.filter(case__in=cases).order_by("case_id"))


# ---------------------------------------------------------------------------
# Consignments
# ---------------------------------------------------------------------------


def consignment_create(*, route: str, partner: Partner, actor) -> Consignment:
    """Open a consignment on one route to one approved partner of the right kind."""
    if route not in Route.values:
        raise DomainError("Choose a route.", field="route")
    if not partner.approved:
        raise DomainError(f"{partner} is not an approved partner.", field="partner")
    if partner.kind not in PARTNER_KINDS_FOR_ROUTE[route]:
        raise DomainError(
            f"{partner} ({partner.get_kind_display()}) cannot take {Route(route).label}.",
            field="partner",
        )
    with transaction.atomic():
        consignment = Consignment(
            reference=f"tmp-{uuid.uuid4().hex[:20]}",
            route=route,
            partner=partner,
            created_at=timezone.now(),
            created_by=actor,
        )
        consignment.full_clean()
        consignment.save()
        # A readable reference from the id: unique without a race on a counter.
        consignment.reference = f"CN-{consignment.pk:06d}"
        consignment.save(update_fields=["reference"])
    return consignment


def _lock_consignment(consignment: Consignment) -> Consignment:
    return Consignment.objects.select_for_update().select_related("partner").get(pk=consignment.pk)


def consignment_add_cases(
    *, consignment: Consignment, case_ids: Iterable[int], actor, source: str = "web"
) -> int:
    """Put routed devices into an open consignment of the same route.

    Gate: only a routed case goes in, and every route but destruction after a
    failed wipe rests on a passing sanitisation record.
    """
    now = timezone.now()
    with transaction.atomic():
        # Lock the consignment first, then the cases in pk order (the same order
        # every service uses), so dispatch cannot race an addition.
        locked = _lock_consignment(consignment)
        if locked.status != Consignment.Status.OPEN:
            raise DomainError(f"{locked} has been dispatched; open a new consignment.")
        cases = _lock_cases(case_ids)
        if not cases:
            raise DomainError("Select at least one case.", field="cases")
        _require_status(cases, CaseStatus.ROUTE_CHOSEN, "add to a consignment")
        wrong = [c for c in cases if c.route != locked.route]
        if wrong:
            raise DomainError(
                f"{locked} is for {locked.get_route_display()}: "
                + ", ".join(f"{c.device} ({c.get_route_display()})" for c in wrong[:10]),
                field="cases",
            )
        passing = _passing_records([c.pk for c in cases])
        _require_passing([c for c in cases if c.route != Route.DESTRUCTION], passing, "consign")
        moved = cases_transition(
            case_ids=[c.pk for c in cases],
            from_status=CaseStatus.ROUTE_CHOSEN,
            to_status=CaseStatus.IN_CONSIGNMENT,
            now=now,
            consignment=locked,
        )
        _events(
            device_ids=[c.device_id for c in cases],
            kind=DeviceEvent.Kind.DISPOSAL,
            actor=actor,
            source=source,
            details={
                "step": "consigned",
                "consignment": locked.reference,
                "partner": locked.partner.name,
            },
            now=now,
        )
    return moved


def consignment_remove_cases(
    *, consignment: Consignment, case_ids: Iterable[int], actor, source: str = "web"
) -> int:
    """Take devices back out of a consignment that has not left yet."""
    now = timezone.now()
    with transaction.atomic():
        locked = _lock_consignment(consignment)
        if locked.status != Consignment.Status.OPEN:
            raise DomainError(f"{locked} has been dispatched; its devices cannot be removed.")
        cases = _lock_cases(case_ids)
        if any(c.consignment_id != locked.pk for c in cases):
            raise DomainError(f"Some selected devices are not in {locked}.", field="cases")
        moved = cases_transition(
            case_ids=[c.pk for c in cases],
            from_status=CaseStatus.IN_CONSIGNMENT,
            to_status=CaseStatus.ROUTE_CHOSEN,
            now=now,
            consignment=None,
        )
        _events(
            device_ids=[c.device_id for c in cases],
            kind=DeviceEvent.Kind.DISPOSAL,
            actor=actor,
            source=source,
            details={"step": "removed_from_consignment", "consignment": locked.reference},
            now=now,
        )
    return moved


def consignment_dispatch(
    *,
    consignment: Consignment,
    dispatch_date: dt.date,
    collected_by: str,
    transfer_note_ref: str,
    actor,
    source: str = "web",
) -> Consignment:
    """Record that a consignment has left: date, who collected it, and the waste
    transfer note (or equivalent) reference.

    Gate: devices leave only in a consignment, and (again, at the door) only with
    a passing sanitisation record unless they are going for destruction.
    """
    collected_by = collected_by.strip()
    transfer_note_ref = transfer_note_ref.strip()
    errors = {}
    if not dispatch_date:
        errors["dispatch_date"] = "Enter the dispatch date."
    elif dispatch_date > timezone.localdate():
        errors["dispatch_date"] = "The dispatch date cannot be in the future."
    if not collected_by:
        errors["collected_by"] = "Enter who collected the consignment."
    if not transfer_note_ref:
        errors["transfer_note_ref"] = "Enter the waste transfer note or equivalent reference."
    if errors:
        name, message = next(iter(errors.items()))
        raise DomainError(message, field=name)
    now = timezone.now()
    with transaction.atomic():
        locked = _lock_consignment(consignment)
        if locked.status != Consignment.Status.OPEN:
            raise DomainError(f"{locked} has already been dispatched.", code="wrong_step")
        cases = _lock_cases(locked.cases.values_list("pk", flat=True))
        if not cases:
            raise DomainError(f"{locked} has no devices to dispatch.", field="cases")
        passing = _passing_records([c.pk for c in cases])
        _require_passing([c for c in cases if c.route != Route.DESTRUCTION], passing, "dispatch")
        locked.status = Consignment.Status.DISPATCHED
        locked.dispatch_date = dispatch_date
        locked.collected_by = collected_by
        locked.transfer_note_ref = transfer_note_ref
        locked.dispatched_by = actor
        locked.full_clean()
        locked.save()
        cases_transition(
            case_ids=[c.pk for c in cases],
            from_status=CaseStatus.IN_CONSIGNMENT,
            to_status=CaseStatus.DISPATCHED,
            now=now,
        )
        _events(
            device_ids=[c.device_id for c in cases],
            kind=DeviceEvent.Kind.DISPOSAL,
            actor=actor,
            source=source,
            details={
                "step": "dispatched",
                "consignment": locked.reference,
                "partner": locked.partner.name,
                "dispatch_date": dispatch_date.isoformat(),
                "collected_by": collected_by,
                "transfer_note_ref": transfer_note_ref,
            },
            now=now,
        )
    return locked


def certificate_content_type(head: bytes) -> str | None:
    """The real content type from the file's first bytes, or None if not allowed."""
    for signature, content_type in CERTIFICATE_SIGNATURES:
        if head.startswith(signature):
            return content_type
    return None


def consignment_certificate_upload(
    *, consignment: Consignment, upload, actor, max_bytes: int | None = None
) -> Consignment:
    """Store the partner's certificate of disposal/destruction/reuse for a
    dispatched consignment, after checking its real type (PDF, PNG or JPEG by
    its first bytes, not its name) and its size."""
    # Read at call time so a changed setting applies without a restart of the tests/app.
    max_bytes = max_bytes or getattr(
        settings, "DISPOSALS_CERTIFICATE_MAX_BYTES", CERTIFICATE_MAX_BYTES
    )
    if upload is None:
        raise DomainError("Choose a certificate file.", field="certificate")
    if upload.size > max_bytes:
        raise DomainError(
            f"The certificate is {_size(upload.size)}; the limit is {_size(max_bytes)}.",
            field="certificate",
            code="too_large",
        )
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    content_type = certificate_content_type(head)
    if content_type is None:
        raise DomainError(
            "The certificate must be a PDF, PNG or JPEG file.",
            field="certificate",
            code="wrong_type",
        )
    with transaction.atomic():
        locked = _lock_consignment(consignment)
        if locked.status != Consignment.Status.DISPATCHED:
            raise DomainError(
                "Upload the partner's certificate after the consignment is dispatched "
                "and before it is closed.",
                field="certificate",
                code="wrong_step",
            )
        # A fresh name each time: an earlier certificate's file stays on disk (never deleted).
        locked.certificate.save(
            f"{locked.reference}-{uuid.uuid4().hex[:8]}{_extension(content_type)}",
            upload,
            save=False,
        )
        locked.certificate_content_type = content_type
        locked.certificate_uploaded_at = timezone.now()
        locked.certificate_uploaded_by = actor
        locked.save(
            update_fields=[
                "certificate",
                "certificate_content_type",
                "certificate_uploaded_at",
                "certificate_uploaded_by",
            ]
        )
    return locked


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.1f} KB"


def _extension(content_type: str) -> str:
    return {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg"}[content_type]


def consignment_close(
    *, consignment: Consignment, actor, proceeds: Decimal | None = None, source: str = "web"
) -> Consignment:
    """Close a dispatched consignment whose certificate has come back: every device
    in it is marked disposed (set-based, one event each).

    Resale consignments record their proceeds (a Decimal, possibly 0.00); other
    routes carry none.
    """
    now = timezone.now()
    with transaction.atomic():
        locked = _lock_consignment(consignment)
        if locked.status != Consignment.Status.DISPATCHED:
            raise DomainError(
                f"{locked} must be dispatched before it is closed.", code="wrong_step"
            )
        if not locked.certificate:
            raise DomainError(
                "Upload the partner's certificate before closing.", field="certificate"
            )
        if locked.route == Route.RESALE:
            if proceeds is None:
                raise DomainError("Enter the resale proceeds (0.00 if none).", field="proceeds")
            if proceeds < 0:
                raise DomainError("Proceeds cannot be negative.", field="proceeds")
            locked.proceeds = Decimal(proceeds).quantize(PENNY)
        elif proceeds:
            raise DomainError("Only resale consignments have proceeds.", field="proceeds")
        cases = _lock_cases(locked.cases.values_list("pk", flat=True))
        locked.status = Consignment.Status.CLOSED
        locked.closed_at = now
        locked.closed_by = actor
        locked.full_clean()
        locked.save()
        cases_transition(
            case_ids=[c.pk for c in cases],
            from_status=CaseStatus.DISPATCHED,
            to_status=CaseStatus.DISPOSED,
            now=now,
            disposed_at=now,
        )
        # Destroyed after a failed wipe: awaiting sanitisation -> disposed;
        # everything else: sanitised -> disposed. Both are in the device machine.
        _devices_move(
            moves=[(c.device_id, c.device.status) for c in cases],
            to_status=Device.Status.DISPOSED,
            kind=DeviceEvent.Kind.DISPOSED,
            actor=actor,
            source=source,
            details={
                c.device_id: {
                    "step": "disposed",
                    "route": c.route,
                    "consignment": locked.reference,
                    "partner": locked.partner.name,
                    "certificate": locked.certificate.name,
                }
                for c in cases
            },
            now=now,
        )
    return locked


# ---------------------------------------------------------------------------
# Partners and rules (user-edited reference data)
# ---------------------------------------------------------------------------


def residual_value_rule_create(*, rule: ResidualValueRule, actor) -> ResidualValueRule:
    """Finance tunes the residual-value rule by adding a new one from a date: earlier
    assessments keep the rule they used, so each stays explainable."""
    if ResidualValueRule.objects.filter(effective_from=rule.effective_from).exists():
        raise DomainError(
            f"A rule already starts on {rule.effective_from:%d %B %Y}; choose another date.",
            field="effective_from",
        )
    rule.full_clean()
    rule._history_user = actor  # simple-history records who set it
    rule.save()
    return rule


def partner_save(*, partner: Partner) -> Partner:
    partner.full_clean()
    partner.save()
    return partner
