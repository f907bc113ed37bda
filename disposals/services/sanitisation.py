"""Recording sanitisation results: the gate before anything else happens to a device.

Business case: devices are "digitally sanitised in line with MPS security
procedures and then repurposed". A pass moves the device on to assessment; a fail
routes it straight to physical destruction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from devices.models import Device, DeviceEvent
from disposals.models import DisposalCase, Route, RouteDecision, SanitisationRecord
from disposals.services.cases import OPENABLE_DEVICE_STATUSES, disposal_cases_open
from disposals.services.custody import (
    CaseStatus,
    cases_transition,
    custody_events,
    devices_move,
    lock_cases,
)


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
    now: dt.datetime | None = None,
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
    now = now or timezone.now()
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
            disposal_cases_open(device_ids=openable, actor=actor, source=source, now=now)
        cases = {
            c.device_id: c
            for c in lock_cases(
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
        devices_move(
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
        custody_events(
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
        custody_events(
            device_ids=details,
            kind=DeviceEvent.Kind.DISPOSAL,
            actor=actor,
            source=source,
            details={"step": "route_chosen", "route": Route.DESTRUCTION, "reason": reason},
            now=now,
            status=Device.Status.AWAITING_SANITISATION,
        )
