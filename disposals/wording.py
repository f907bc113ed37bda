"""Stored codes as words, for the custody page and its PDF: device statuses
(``in_stock -> deployed`` reads "In stock → Deployed"), wipe methods
(``crypto_erase`` reads "Cryptographic erase"), routes, grades, and the details each
custody step records. One table, so the page and the PDF say the same thing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from devices.models import Device
from disposals.models import Grade, Route, SanitisationRecord

STEPS = {
    "case_opened": "Disposal case opened",
    "sanitisation": "Sanitisation recorded",
    "value_assessed": "Residual value assessed",
    "route_chosen": "Route chosen",
    "route_override_requested": "Route override requested",
    "override_rejected": "Route override rejected",
    "consigned": "Added to a consignment",
    "removed_from_consignment": "Taken out of a consignment",
    "dispatched": "Dispatched",
    "disposed": "Disposed",
}

KEYS = {
    "result": "Result",
    "method": "Method",
    "standard": "Standard",
    "tool": "Tool",
    "operator": "Operator",
    "verifier": "Verifier",
    "performed_at": "Performed",
    "certificate_ref": "Certificate or log reference",
    "grade": "Condition grade",
    "policy_destruction": "Security policy requires destruction",
    "route": "Route",
    "suggested_route": "Suggested route",
    "requested_route": "Requested route",
    "reason": "Reason",
    "override_reason": "Reason for the override",
    "requested_by": "Requested by",
    "signed_off_as": "Signed off as",
    "rejected_as": "Rejected as",
    "rejection_reason": "Reason for rejecting",
    "consignment": "Consignment",
    "partner": "Partner",
    "dispatch_date": "Dispatch date",
    "collected_by": "Collected by",
    "transfer_note_ref": "Waste transfer note",
    "certificate": "Partner's certificate",
    "assigned_to": "Assigned to",
    "location": "Location",
    "historical": "Disposed before records began",
    "changed": "Changed",
}
# Internal references that mean nothing to a reader.
HIDDEN_KEYS = frozenset({"step", "record_id", "row", "run", "import_run"})

DEVICE_STATUSES = dict(Device.Status.choices)
ROLES = {"finance": "Finance officer", "commercial": "Commercial officer"}
VALUE_WORDS = {
    "method": dict(SanitisationRecord.Method.choices),
    "result": dict(SanitisationRecord.Result.choices),
    "route": dict(Route.choices),
    "suggested_route": dict(Route.choices),
    "requested_route": dict(Route.choices),
    "grade": dict(Grade.choices),
    "signed_off_as": ROLES,
    "rejected_as": ROLES,
}


def status_label(status: str) -> str:
    """A device status in words ("awaiting_sanitisation" -> "Awaiting sanitisation")."""
    return DEVICE_STATUSES.get(status, str(status or "").replace("_", " ").capitalize())


def status_change(from_status: str, to_status: str) -> str:
    """``in_stock``, ``deployed`` -> "In stock → Deployed"; one label when unchanged."""
    if not from_status:
        return status_label(to_status) if to_status else ""
    if from_status == to_status:
        return status_label(to_status)
    return f"{status_label(from_status)} → {status_label(to_status)}"


def step_label(step: str | None) -> str:
    return STEPS.get(step or "", str(step or "").replace("_", " ").capitalize())


def key_label(key: str) -> str:
    return KEYS.get(key, str(key).replace("_", " ").capitalize())


def _when(value: str) -> str:
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        return value
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, dt.UTC)
    return timezone.localtime(parsed).strftime("%-d %b %Y %H:%M")


def _day(value: str) -> str:
    try:
        return dt.date.fromisoformat(value).strftime("%-d %b %Y")
    except ValueError:
        return value


def value_text(key: str, value: Any) -> str:
    """A recorded value in words: codes by their labels, yes/no, dates readable,
    a change as "old → new"."""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if value is None or value == "":
        return "none"
    if key in VALUE_WORDS and isinstance(value, str):
        return VALUE_WORDS[key].get(value, value.replace("_", " "))
    if key in ("performed_at", "occurred_at") and isinstance(value, str):
        return _when(value)
    if key.endswith("_date") and isinstance(value, str):
        return _day(value)
    if key == "certificate" and isinstance(value, str):
        return value.rsplit("/", 1)[-1]
    if isinstance(value, dict):
        return "; ".join(
            f"{key_label(k)}: {_change_text(k, v)}"
            for k, v in value.items()
            if k not in HIDDEN_KEYS
        )
    if isinstance(value, list | tuple):
        return ", ".join(value_text(key, v) for v in value)
    return str(value)


def _change_text(key: str, value: Any) -> str:
    if isinstance(value, list | tuple) and len(value) == 2:
        old, new = value
        if key == "status":
            return status_change(old or "", new or "")
        return f"{value_text(key, old)} → {value_text(key, new)}"
    return value_text(key, value)


def event_details(details: dict | None) -> list[tuple[str, str]]:
    """An event's details as (label, words) pairs, internal references left out."""
    return [
        (key_label(key), value_text(key, value))
        for key, value in (details or {}).items()
        if key not in HIDDEN_KEYS
    ]
