"""Consignments and certificates: devices leave in batches to approved partners.

A routed device goes into an open consignment of its route; the consignment is
dispatched (with its waste transfer note), the partner's certificate comes back,
and closing it marks every device in it disposed. Only destruction after a failed
wipe leaves without a passing sanitisation record.

Scope. A partner collects from several business units at once (one van, one
waste transfer note, one certificate for the load), so a consignment may carry
many units' devices; we keep that rather than split consignments by unit, which
would multiply collections and paperwork for the same partner. What a consignment
action does, though, it does to *every* device in it: dispatching or closing
declares all of them gone. So a user scoped to some units may act on a consignment
(add, remove, dispatch, upload the certificate, close) only while every device in
it, and every device they add, lies inside their scope; otherwise the service
refuses with ``out_of_scope`` and a message that names no other unit's device. A
central (unscoped) asset manager runs mixed loads. Opening an empty consignment
needs no scope.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from core.errors import DomainError
from devices.models import Device, DeviceEvent
from disposals.models import PARTNER_KINDS_FOR_ROUTE, Consignment, Partner, Route
from disposals.services.certificates import certificate_check
from disposals.services.custody import (
    PENNY,
    CaseStatus,
    cases_transition,
    custody_events,
    devices_move,
    lock_cases,
    passing_records,
    require_in_scope,
    require_passing,
    require_status,
)


def consignment_create(
    *, route: str, partner: Partner, actor, now: dt.datetime | None = None
) -> Consignment:
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
            created_at=now or timezone.now(),
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


def _require_consignment_in_scope(
    locked: Consignment, actor, action: str, adding: Iterable[int] = ()
) -> None:
    """Every device already in the consignment, and every one being added, must lie
    in the actor's scope (see the module docstring). Called with the consignment
    locked, so no other unit's device can slip in between the check and the action."""
    case_ids = [*locked.cases.values_list("pk", flat=True), *adding]
    require_in_scope(actor=actor, case_ids=case_ids, action=action, what=str(locked))


def consignment_add_cases(
    *,
    consignment: Consignment,
    case_ids: Iterable[int],
    actor,
    source: str = "web",
    now: dt.datetime | None = None,
) -> int:
    """Put routed devices into an open consignment of the same route.

    Gate: only a routed case goes in, and every route but destruction after a
    failed wipe rests on a passing sanitisation record.
    """
    now = now or timezone.now()
    with transaction.atomic():
        # Lock the consignment first, then the cases in pk order (the same order
        # every service uses), so dispatch cannot race an addition.
        locked = _lock_consignment(consignment)
        if locked.status != Consignment.Status.OPEN:
            raise DomainError(f"{locked} has been dispatched; open a new consignment.")
        cases = lock_cases(case_ids)
        if not cases:
            raise DomainError("Select at least one case.", field="cases")
        _require_consignment_in_scope(
            locked, actor, f"add devices to {locked}", adding=[c.pk for c in cases]
        )
        require_status(cases, CaseStatus.ROUTE_CHOSEN, "add to a consignment")
        wrong = [c for c in cases if c.route != locked.route]
        if wrong:
            raise DomainError(
                f"{locked} is for {locked.get_route_display()}: "
                + ", ".join(f"{c.device} ({c.get_route_display()})" for c in wrong[:10]),
                field="cases",
            )
        passing = passing_records([c.pk for c in cases])
        require_passing([c for c in cases if c.route != Route.DESTRUCTION], passing, "consign")
        moved = cases_transition(
            case_ids=[c.pk for c in cases],
            from_status=CaseStatus.ROUTE_CHOSEN,
            to_status=CaseStatus.IN_CONSIGNMENT,
            now=now,
            consignment=locked,
        )
        custody_events(
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
        _require_consignment_in_scope(locked, actor, f"remove devices from {locked}")
        cases = lock_cases(case_ids)
        if any(c.consignment_id != locked.pk for c in cases):
            raise DomainError(f"Some selected devices are not in {locked}.", field="cases")
        moved = cases_transition(
            case_ids=[c.pk for c in cases],
            from_status=CaseStatus.IN_CONSIGNMENT,
            to_status=CaseStatus.ROUTE_CHOSEN,
            now=now,
            consignment=None,
        )
        custody_events(
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
    now: dt.datetime | None = None,
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
    now = now or timezone.now()
    with transaction.atomic():
        locked = _lock_consignment(consignment)
        if locked.status != Consignment.Status.OPEN:
            raise DomainError(f"{locked} has already been dispatched.", code="wrong_step")
        _require_consignment_in_scope(locked, actor, f"dispatch {locked}")
        cases = lock_cases(locked.cases.values_list("pk", flat=True))
        if not cases:
            raise DomainError(f"{locked} has no devices to dispatch.", field="cases")
        passing = passing_records([c.pk for c in cases])
        require_passing([c for c in cases if c.route != Route.DESTRUCTION], passing, "dispatch")
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
        custody_events(
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


def consignment_certificate_upload(
    *,
    consignment: Consignment,
    upload,
    actor,
    max_bytes: int | None = None,
    now: dt.datetime | None = None,
) -> Consignment:
    """Store the partner's certificate of disposal/destruction/reuse for a
    dispatched consignment, after checking it is a real PDF, PNG or JPEG within the
    size limit (``disposals.services.certificates``). A refused file writes nothing.

    The stored name is the consignment's reference and a random suffix, never the
    upload's own name."""
    checked = certificate_check(upload, max_bytes=max_bytes)
    with transaction.atomic():
        locked = _lock_consignment(consignment)
        if locked.status != Consignment.Status.DISPATCHED:
            raise DomainError(
                "Upload the partner's certificate after the consignment is dispatched "
                "and before it is closed.",
                field="certificate",
                code="wrong_step",
            )
        _require_consignment_in_scope(locked, actor, f"upload the certificate of {locked}")
        # A fresh name each time: an earlier certificate's file stays on disk (never deleted).
        upload.seek(0)
        locked.certificate.save(
            f"{locked.reference}-{uuid.uuid4().hex[:8]}{checked.extension}",
            upload,
            save=False,
        )
        locked.certificate_content_type = checked.content_type
        locked.certificate_uploaded_at = now or timezone.now()
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


def consignment_close(
    *,
    consignment: Consignment,
    actor,
    proceeds: Decimal | None = None,
    source: str = "web",
    now: dt.datetime | None = None,
) -> Consignment:
    """Close a dispatched consignment whose certificate has come back: every device
    in it is marked disposed (set-based, one event each).

    Resale consignments record their proceeds (a Decimal, possibly 0.00); other
    routes carry none.
    """
    now = now or timezone.now()
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
        _require_consignment_in_scope(locked, actor, f"close {locked}")
        if locked.route == Route.RESALE:
            if proceeds is None:
                raise DomainError("Enter the resale proceeds (0.00 if none).", field="proceeds")
            if proceeds < 0:
                raise DomainError("Proceeds cannot be negative.", field="proceeds")
            locked.proceeds = Decimal(proceeds).quantize(PENNY)
        elif proceeds:
            raise DomainError("Only resale consignments have proceeds.", field="proceeds")
        cases = lock_cases(locked.cases.values_list("pk", flat=True))
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
        devices_move(
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


def partner_save(*, partner: Partner) -> Partner:
    """Save a partner after validating it (a licensed WEEE recycler needs its licence
    number). Partners are organisation-wide reference data, outside any unit scope."""
    partner.full_clean()
    partner.save()
    return partner
