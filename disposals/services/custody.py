"""The machinery every step of the disposal journey shares.

* ``cases_transition``: the one mover of disposal-case statuses, checked against
  ``disposals.models.CASE_TRANSITIONS``;
* ``devices_move`` and ``custody_events``: the device's own status moves and the
  ``devices.DeviceEvent`` rows each step writes, so the device's timeline is its
  chain of custody;
* ``lock_cases`` and the gates each step re-checks (``require_status``,
  ``require_passing``, ``require_in_scope``).

Work over many devices is set-based: rows are locked in pk order, moved with a
compare-and-swap ``update()`` whose count is checked, and events are bulk-created.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.scoping import unit_scope
from core.errors import DomainError
from devices.models import DeviceEvent
from devices.services import devices_status_move
from disposals.models import CASE_TRANSITIONS, DisposalCase, SanitisationRecord

# Retention is a policy, not a cascade: records are kept at least this long after
# disposal; removing them afterwards is for an audited archive process outside the
# app, which itself never deletes them.
RETENTION_YEARS = settings.DISPOSALS_RETENTION_YEARS
PENNY = Decimal("0.01")
CaseStatus = DisposalCase.Status


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


def devices_move(
    *,
    moves: list[tuple[int, str]],
    to_status: str,
    kind: str,
    actor,
    source: str,
    details: dict[int, dict],
    now: dt.datetime,
) -> None:
    """Move devices (``(device_id, from_status)`` pairs) to ``to_status`` through
    ``devices.services.devices_status_move``, the one set-based status mover every
    door calls: it checks ``ALLOWED_TRANSITIONS``, compare-and-swaps on status, and
    writes the events and history. Disposals passes ``disposal=True``, being the one
    app that may move a device into a disposal status (it holds the device's case)."""
    devices_status_move(
        moves=moves,
        to_status=to_status,
        kind=kind,
        actor=actor,
        source=source or "disposals",
        details=details,
        now=now,
        disposal=True,
    )


def custody_events(
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


def lock_cases(case_ids: Iterable[int]) -> list[DisposalCase]:
    """Lock cases in pk order (one query) so concurrent bulk actions cannot deadlock."""
    return list(
        DisposalCase.objects.select_for_update()
        .filter(pk__in=sorted(set(case_ids)))
        .select_related("device")
        .order_by("pk")
    )


def require_status(cases: list[DisposalCase], status: str, action: str) -> None:
    wrong = [c for c in cases if c.status != status]
    if wrong:
        names = ", ".join(str(c.device) for c in wrong[:10])
        more = f" and {len(wrong) - 10} more" if len(wrong) > 10 else ""
        raise DomainError(
            f"Cannot {action}: {names}{more} not {dict(CaseStatus.choices)[status].lower()}.",
            field="cases",
            code="wrong_step",
        )


def passing_records(case_ids: list[int]) -> dict[int, SanitisationRecord]:
    """The passing sanitisation record of each case that has one (one query)."""
    return {
        r.case_id: r
        for r in SanitisationRecord.objects.filter(
            case_id__in=case_ids, result=SanitisationRecord.Result.PASS
        ).order_by("case_id", "performed_at", "id")
    }


def require_passing(cases: list[DisposalCase], passing: dict, action: str) -> None:
    missing = [c for c in cases if c.pk not in passing]
    if missing:
        raise DomainError(
            f"Cannot {action} without a passing sanitisation record: "
            + ", ".join(str(c.device) for c in missing[:10]),
            field="cases",
            code="not_sanitised",
        )


def require_in_scope(*, actor, case_ids: Iterable[int], action: str, what: str = "") -> None:
    """Refuse (``out_of_scope``) when any of the cases' devices lies outside the
    actor's business-unit scope. One query; nothing for an unscoped actor or for
    the system itself (``actor=None``: the demo loader, a migration).

    The message names no device: a device outside the caller's scope is not
    theirs to see, not even by its asset tag.
    """
    if actor is None:
        return
    scope = unit_scope(actor)
    if scope.unrestricted:
        return
    ids = sorted(set(case_ids))
    if not ids:
        return
    outside = DisposalCase.objects.filter(pk__in=ids).exclude(DisposalCase.objects.scope_q(scope))
    if outside.exists():
        subject = what or "the selection"
        raise DomainError(
            f"Cannot {action}: {subject} includes devices outside your business units. "
            "Someone whose scope covers every unit in it must do this.",
            field="cases",
            code="out_of_scope",
        )
