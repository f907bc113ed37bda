"""Lifecycle steps recorded on one device by a person (the device page) or an
integration (the events API): a note, a repair finished, a device found again, a
device reported lost or stolen. Each is a thin rule over ``devices.services``
(``device_transition`` and ``device_event_record``), so the status machine, the
holder rules and the event log apply exactly as at every other door."""

from __future__ import annotations

from core.errors import DomainError
from devices.models import Device, DeviceEvent
from devices.services import device_event_record, device_record_repair, device_transition

NOTE_MAX_LENGTH = 2000
LOSS_CIRCUMSTANCES = {"lost": "Lost", "stolen": "Stolen"}


def _text(value: str | None, *, field: str, required: bool, what: str) -> str:
    value = (value or "").strip()
    if required and not value:
        raise DomainError(f"Enter {what}.", field=field, code="required")
    if len(value) > NOTE_MAX_LENGTH:
        raise DomainError(
            f"{what[:1].upper()}{what[1:]} must be {NOTE_MAX_LENGTH:,} characters or fewer.",
            field=field,
        )
    return value


def device_note_add(*, device: Device, actor, note: str, source: str = "web") -> DeviceEvent:
    """A note on the device's log (who said what, when). The log is append-only:
    a note is never edited, a correction is another note."""
    text = _text(note, field="note", required=True, what="the note")
    return device_event_record(
        device=device,
        kind=DeviceEvent.Kind.NOTE,
        actor=actor,
        source=source,
        details={"note": text},
    )


def device_repair_finish(
    *, device: Device, actor, source: str = "web", details: dict | None = None
) -> Device | DeviceEvent:
    """A repair is finished. A device in repair goes back to its holder if it has
    one, otherwise into stock; a device fixed where it is keeps its status and the
    repair is recorded in its history (repairs feed eligibility: business case,
    "older devices break more frequently"). Returns the moved device, or the event
    of an in-place repair."""
    if device.status != Device.Status.IN_REPAIR:
        return device_record_repair(device=device, actor=actor, source=source, details=details)
    target = Device.Status.DEPLOYED if device.assigned_to_id else Device.Status.IN_STOCK
    return device_transition(
        device=device,
        to_status=target,
        kind=DeviceEvent.Kind.REPAIRED,
        actor=actor,
        source=source,
        details=details,
    )


def device_found(
    *, device: Device, actor, source: str = "web", details: dict | None = None
) -> Device:
    """A device recorded as lost or stolen is back: into stock, to be checked before
    it is issued again."""
    if device.status != Device.Status.LOST_STOLEN:
        raise DomainError(
            "Only a device recorded as lost or stolen can be found.",
            field="action",
            code="transition_not_allowed",
        )
    return device_transition(
        device=device,
        to_status=Device.Status.IN_STOCK,
        kind=DeviceEvent.Kind.FOUND,
        actor=actor,
        source=source,
        details=details,
    )


def device_report_lost(
    *,
    device: Device,
    actor,
    circumstance: str,
    note: str,
    reference: str = "",
    source: str = "web",
) -> Device:
    """Record a device as lost or stolen, saying which, what happened and, for a
    theft, the crime or incident reference when there is one. The holder is
    released (the status mover clears it when a device leaves use)."""
    if circumstance not in LOSS_CIRCUMSTANCES:
        raise DomainError("Choose whether the device was lost or stolen.", field="circumstance")
    text = _text(note, field="note", required=True, what="what happened")
    reference = (reference or "").strip()[:100]
    details = {"circumstance": circumstance, "note": text}
    if reference:
        details["reference"] = reference
    return device_transition(
        device=device,
        to_status=Device.Status.LOST_STOLEN,
        kind=DeviceEvent.Kind.LOST,
        actor=actor,
        source=source,
        details=details,
    )
