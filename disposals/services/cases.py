"""Opening disposal cases: a returned device enters the journey, booked for sanitisation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from core.errors import DomainError
from devices.models import Device, DeviceEvent
from disposals.models import DisposalCase
from disposals.services.custody import CaseStatus, custody_events, devices_move

OPENABLE_DEVICE_STATUSES = (Device.Status.RETURNED, Device.Status.AWAITING_SANITISATION)


def disposal_cases_open(
    *,
    device_ids: Iterable[int],
    actor=None,
    source: str = "web",
    now: dt.datetime | None = None,
) -> list[DisposalCase]:
    """Open a disposal case for each returned device, set-based, booking it for
    sanitisation (device: returned -> awaiting sanitisation).

    Only returned (or already awaiting-sanitisation) devices without a case may be
    opened; otherwise nothing is written and the error names the devices.
    """
    ids = sorted(set(device_ids))
    if not ids:
        raise DomainError("Select at least one device.", field="devices")
    # ``now``: when the step happened, if not now (the demo loader lays out a history).
    now = now or timezone.now()
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
            devices_move(
                moves=returned,
                to_status=Device.Status.AWAITING_SANITISATION,
                kind=DeviceEvent.Kind.DISPOSAL,
                actor=actor,
                source=source,
                details={pk: step for pk, _ in returned},
                now=now,
            )
        waiting = [d.pk for d in devices if d.status != Device.Status.RETURNED]
        custody_events(
            device_ids=waiting,
            kind=DeviceEvent.Kind.DISPOSAL,
            actor=actor,
            source=source,
            details=step,
            now=now,
            status=Device.Status.AWAITING_SANITISATION,
        )
        return list(DisposalCase.objects.filter(device_id__in=ids).order_by("pk"))
