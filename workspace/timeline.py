"""A device's timeline and field history in plain words, for the device page.

Events carry what their writer knew in ``details`` (a holder's staff number, an
import's row, the fields an update changed, a disposal step's record); the page
says it as a person would: field labels, "before → after", who and when, the
source in words ("Updated by import #12 (row 5)"), never a raw dict, an internal
key or a "Deployed → Deployed" that is no change at all.

Commercial values are removed first, by ``accounts.redaction`` (the one function
every output uses), so nothing here decides classification.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import dateformat, timezone

from accounts.models import BusinessUnit
from accounts.redaction import redact_commercial
from devices.models import SERIAL_NOT_RECORDED, Device, DeviceEvent
from disposals.models import Grade, Route, SanitisationRecord

STATUS_LABELS = dict(Device.Status.choices)
KIND_LABELS = dict(DeviceEvent.Kind.choices)

# A device's fields as people name them (history rows and events' "changed").
FIELD_LABELS = {
    "asset_tag": "Asset tag",
    "serial_number": "Serial number",
    "manufacturer": "Manufacturer",
    "device_model": "Model",
    "model": "Model",
    "status": "Status",
    "business_unit": "Business unit",
    "assigned_to": "Assigned to",
    "location": "Location",
    "purchase_date": "Purchase date",
    "warranty_expires": "Warranty expires",
    "purchase_cost": "Purchase cost",
    "last_seen": "Last seen by device management",
    "os_version": "Operating system",
    "historical": "Disposed before records began",
}
DATE_FIELDS = {"purchase_date", "warranty_expires", "dispatch_date", "performed_at"}
DATETIME_FIELDS = {"last_seen"}
MONEY_FIELDS = {"purchase_cost"}

# Disposal steps (``details["step"]``) as headings.
DISPOSAL_STEPS = {
    "case_opened": "Disposal case opened: awaiting sanitisation",
    "sanitisation": "Sanitisation recorded",
    "value_assessed": "Residual value assessed",
    "route_chosen": "Disposal route chosen",
    "route_override_requested": "Route override awaiting finance sign-off",
    "consigned": "Added to a consignment",
    "removed_from_consignment": "Removed from a consignment",
    "dispatched": "Dispatched to the disposal partner",
    "disposed": "Disposed",
}
SIGN_OFF_ROLES = {"finance": "a finance officer", "commercial": "a commercial officer"}
CHOICE_LABELS = {
    "route": dict(Route.choices),
    "suggested_route": dict(Route.choices),
    "grade": dict(Grade.choices),
    "method": dict(SanitisationRecord.Method.choices),
    "result": dict(SanitisationRecord.Result.choices),
    "status": STATUS_LABELS,
}
# Keys that are bookkeeping, not something a reader needs: the record's own id, an
# order line's id (the order reference is shown).
HIDDEN_KEYS = {"record_id", "purchase_order_line", "row", "step"}
NONE = "(none)"


@dataclass
class TimelineEntry:
    """One event as the device page shows it."""

    title: str
    when: dt.datetime
    who: str
    status_change: tuple[str, str] | None = None
    lines: list[str] = field(default_factory=list)
    kind: str = ""


# --- values in words -------------------------------------------------------------


def _date(value) -> str:
    if isinstance(value, str):
        try:
            value = (
                dt.datetime.fromisoformat(value) if "T" in value else dt.date.fromisoformat(value)
            )
        except ValueError:
            return value
    if isinstance(value, dt.datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return dateformat.format(value, "j F Y, H:i")
    if isinstance(value, dt.date):
        return dateformat.format(value, "j F Y")
    return str(value)


def _money(value) -> str:
    try:
        return f"£{Decimal(str(value)):,.2f}"
    except (InvalidOperation, ValueError):
        return str(value)


def value_words(name: str, value: Any, *, units: dict[str, str] | None = None) -> str:
    """One recorded value as a reader would say it."""
    if value is None or value == "":
        return SERIAL_NOT_RECORDED if name == "serial_number" else NONE
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if name in CHOICE_LABELS and isinstance(value, str):
        return CHOICE_LABELS[name].get(value, value.replace("_", " "))
    if name in DATE_FIELDS or name in DATETIME_FIELDS:
        return _date(value)
    if isinstance(value, dt.date):
        return _date(value)
    if name in MONEY_FIELDS:
        return _money(value)
    if name == "business_unit" and units and isinstance(value, str):
        return units.get(value, value)
    if name == "assigned_to":
        return f"staff number {value}"
    if isinstance(value, dict):
        return "; ".join(f"{_label(k)}: {value_words(k, v, units=units)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(value_words(name, v, units=units) for v in value)
    return str(value)


def _label(name: str) -> str:
    return FIELD_LABELS.get(name) or str(name).replace("_", " ").capitalize()


def _change(name: str, old, new, *, units) -> str:
    return (
        f"{_label(name)}: {value_words(name, old, units=units)} → "
        f"{value_words(name, new, units=units)}"
    )


# --- sources ---------------------------------------------------------------------


def _source_words(source: str) -> tuple[str, str]:
    """(``kind``, words) for an event's source: ``("import", "import #12")``,
    ``("api", "through the API")``..."""
    source = source or ""
    prefix, _, rest = source.partition(":")
    if prefix == "import" and rest:
        return "import", f"import #{rest}"
    if prefix == "wave" and rest:
        return "wave", f"refresh wave #{rest}"
    if prefix == "procurement" and rest:
        return "procurement", f"the receipt of purchase order {rest}"
    return prefix, {
        "seed": "the initial estate load",
        "api": "through the API",
        "admin": "in the administration pages",
        "web": "",
        "": "",
    }.get(source, source)


# --- events ----------------------------------------------------------------------


def _title(event: DeviceEvent, details: dict, source_kind: str, source_text: str) -> str:
    kind = event.kind
    if source_kind == "import":
        row = details.get("row")
        where = f"{source_text} (row {row})" if row else source_text
        verb = {"updated": "Updated", "imported": "Added"}.get(kind)
        if verb:
            return f"{verb} by {where}"
        return f"{KIND_LABELS.get(kind, kind)} by {where}"
    if kind == DeviceEvent.Kind.IMPORTED and details.get("historical"):
        return "Recorded as disposed of before records began"
    if kind == DeviceEvent.Kind.IMPORTED and source_kind == "seed":
        return "Added with the initial estate load"
    if details.get("step") in DISPOSAL_STEPS:
        return DISPOSAL_STEPS[details["step"]]
    if kind == DeviceEvent.Kind.LOST and details.get("circumstance") in ("lost", "stolen"):
        return f"Reported {details['circumstance']}"
    return KIND_LABELS.get(kind, kind.replace("_", " ").capitalize())


def _detail_lines(event: DeviceEvent, details: dict, *, units) -> list[str]:
    lines: list[str] = []
    done = set(HIDDEN_KEYS)
    d = details

    def take(*keys):
        done.update(keys)

    if isinstance(d.get("changed"), dict):
        for name, pair in d["changed"].items():
            if isinstance(pair, list | tuple) and len(pair) == 2:
                lines.append(_change(name, pair[0], pair[1], units=units))
            else:
                lines.append(f"{_label(name)}: {value_words(name, pair, units=units)}")
        take("changed")
    if "from" in d or "to" in d:
        old = f"staff number {d['from']}" if d.get("from") else "no one"
        new = f"staff number {d['to']}" if d.get("to") else "no one"
        lines.append(f"Handed from {old} to {new}")
        take("from", "to")
    if d.get("assigned_to") and event.kind in (
        DeviceEvent.Kind.DEPLOYED,
        DeviceEvent.Kind.IMPORTED,
        DeviceEvent.Kind.REPAIRED,
    ):
        lines.append(f"Deployed to staff number {d['assigned_to']}")
    elif d.get("assigned_to"):
        lines.append(f"Holder: staff number {d['assigned_to']}")
    take("assigned_to")
    if d.get("circumstance") in ("lost", "stolen"):
        take("circumstance")
    if d.get("historical") is True:
        lines.append("Disposed of before records began: there is no custody record.")
        take("historical")
    if d.get("fault"):
        lines.append(f"Fault: {d['fault']}")
        take("fault")
    if isinstance(d.get("age_years"), int):
        age = d["age_years"]
        lines.append(
            "The device was less than a year old."
            if age < 1
            else f"The device was {age} year{'s' if age != 1 else ''} old."
        )
        take("age_years")
    for key, words in (
        ("replacing", "Replaces"),
        ("replaces", "Replaces"),
        ("replaced_by", "Replaced by"),
    ):
        if d.get(key):
            lines.append(f"{words} {d[key]} (refresh swap)")
            take(key)
    take("refresh_swap")
    for key in ("business_unit", "location"):
        if isinstance(d.get(key), list | tuple) and len(d[key]) == 2:
            lines.append(_change(key, d[key][0], d[key][1], units=units))
            take(key)
    if d.get("purchase_order"):
        lines.append(f"Received against purchase order {d['purchase_order']}")
        take("purchase_order")
    if d.get("operator") or d.get("verifier"):
        lines.append(
            f"Carried out by {d.get('operator') or NONE}, verified by {d.get('verifier') or NONE}"
        )
        take("operator", "verifier")
    if d.get("policy_destruction") is True:
        lines.append("Security policy requires destruction.")
    take("policy_destruction")
    if d.get("signed_off_as"):
        lines.append(f"Signed off by {SIGN_OFF_ROLES.get(d['signed_off_as'], d['signed_off_as'])}")
        take("signed_off_as")
    if d.get("certificate"):
        lines.append("The partner's certificate of disposal is on file.")
        take("certificate")
    named = {
        "note": None,
        "reason": "Reason",
        "override_reason": "Reason for the override",
        "reference": "Reference",
        "result": "Result",
        "method": "Method",
        "standard": "Standard",
        "tool": "Tool",
        "performed_at": "Performed",
        "certificate_ref": "Certificate reference",
        "grade": "Condition grade",
        "route": "Route",
        "suggested_route": "Suggested route",
        "consignment": "Consignment",
        "partner": "Partner",
        "dispatch_date": "Dispatched on",
        "collected_by": "Collected by",
        "transfer_note_ref": "Waste transfer note",
    }
    for key, label in named.items():
        if key in d and key not in done:
            if d[key] not in (None, ""):
                text = value_words(key, d[key], units=units)
                lines.append(text if label is None else f"{label}: {text}")
            take(key)
    for key, value in d.items():
        if key not in done and value not in (None, "", [], {}):
            lines.append(f"{_label(key)}: {value_words(key, value, units=units)}")
    return lines


def _unit_codes(details: dict) -> set[str]:
    codes = set()
    pair = details.get("business_unit")
    changed = details.get("changed")
    if isinstance(changed, dict):
        pair = changed.get("business_unit", pair)
    if isinstance(pair, list | tuple):
        codes.update(v for v in pair if isinstance(v, str))
    return codes


def _redacted(details: dict, *, user) -> dict:
    """The event's details the reader may see, with a word where a whole change
    was commercial (so an update does not read as a change of nothing)."""
    visible = redact_commercial(details, user=user)
    changed = details.get("changed")
    if isinstance(changed, dict) and changed and not visible.get("changed"):
        visible = {k: v for k, v in visible.items() if k != "changed"}
        visible["_commercial_only"] = True
    return visible


def timeline_entries(events: list[DeviceEvent], *, user) -> list[TimelineEntry]:
    """The events (in the order given) as the device page shows them. Unit codes
    named in moves are shown by name for units the reader may see: one query."""
    prepared = []
    codes: set[str] = set()
    for event in events:
        details = event.details if isinstance(event.details, dict) else {"note": event.details}
        details = _redacted(details, user=user)
        codes |= _unit_codes(details)
        prepared.append((event, details))
    units = (
        dict(
            BusinessUnit.objects.visible_to(user).filter(code__in=codes).values_list("code", "name")
        )
        if codes
        else {}
    )
    entries = []
    for event, details in prepared:
        source_kind, source_text = _source_words(event.source)
        commercial_only = details.pop("_commercial_only", False)
        lines = _detail_lines(event, details, units=units)
        if commercial_only:
            lines.append("Commercial details changed (shown to finance and commercial roles only).")
        if event.recorded_by_id:
            who = event.recorded_by.get_username()
            if source_text and source_kind != "import":
                who = f"{who}, {source_text}"
        else:
            who = source_text if source_kind not in ("", "web") else "the system"
            if source_kind == "import":
                who = "the import"
        status_change = None
        if event.from_status and event.to_status and event.from_status != event.to_status:
            status_change = (
                STATUS_LABELS.get(event.from_status, event.from_status),
                STATUS_LABELS.get(event.to_status, event.to_status),
            )
        elif event.to_status and not event.from_status:
            lines.insert(0, f"Status: {STATUS_LABELS.get(event.to_status, event.to_status)}")
        entries.append(
            TimelineEntry(
                title=_title(event, details, source_kind, source_text),
                when=event.occurred_at,
                who=who,
                status_change=status_change,
                lines=lines,
                kind=event.kind,
            )
        )
    return entries


# --- field history ---------------------------------------------------------------


def history_rows(entries: list[dict]) -> list[dict]:
    """``devices.selectors.device_change_history`` entries (already redacted for the
    reader) in words: ``{"when", "who", "kind", "lines", "redacted", "first"}``. A
    first record lists the values it starts with, never "changed from empty"."""
    rows = []
    for entry in entries:
        first = entry["kind"] in ("Created", "First recorded")
        lines = []
        for change in entry["changes"]:
            name = change["field"]
            new = value_words(name, change["new"])
            if first:
                lines.append(f"{_label(name)}: {new}")
            else:
                old = value_words(name, change["old"])
                lines.append(f"{_label(name)}: {old} → {new}")
        rows.append(
            {
                "when": entry["when"],
                "who": entry["who"].get_username() if entry["who"] else "System",
                "kind": entry["kind"],
                "lines": lines,
                "redacted": entry.get("redacted", False),
                "first": first,
            }
        )
    return rows
