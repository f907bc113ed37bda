"""``POST /api/v1/devices/bulk/``: the importer's upsert, behind the API's scope check.

The rules (parsing, validation, upsert by manufacturer + serial, or by asset tag for
an item without a serial number, events) are the
importer's, in ``devices.importing.services.devices_upsert_rows``; this module
only shapes the request, refuses what lies outside the caller's business
units (reported exactly as an unknown unit would be, so nothing about other
units leaks) and shapes the per-item results.

``record_exceptions`` (object form only: ``{"devices": [...], "record_exceptions":
true}``) is the import's ``--record-exceptions`` for a first migration of an existing
estate: an item that would put a person past their entitlement is kept and an
exception awaiting review is recorded, instead of the item being refused
``entitlement_exceeded``. Only an asset manager may ask for it (a 403 otherwise):
it turns refusals into open exceptions for a person to review, which is a decision
someone takes once for a migration, not something an unattended integration should
do on every sync; a token's unit scope limits whose entitlement it touches but not
that, so integration tokens are refused whatever their scope.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.exceptions import PermissionDenied

from accounts.roles import Role, has_role
from accounts.scoping import unit_scope
from api.exceptions import RequestValidationError
from devices.importing.rows import CLEAR_MARKER
from devices.importing.services import devices_upsert_rows
from devices.importing.upsert import Lookups
from devices.models import Device, Person

SOURCE = "api"
NOT_FOUND = "not found"
SHAPE = 'Send a JSON array of devices or {"devices": [...], "record_exceptions": false}.'
RECORD_EXCEPTIONS_ROLE = (
    "Only an asset manager may record entitlement exceptions (record_exceptions); "
    "integrations are refused items past an entitlement."
)


def max_items() -> int:
    """Devices per request (``API_BULK_MAX_ITEMS``)."""
    return settings.API_BULK_MAX_ITEMS


def _items_from(data) -> tuple[list, bool]:
    """The items and the ``record_exceptions`` option, or a 400 naming the field."""
    record_exceptions = False
    if isinstance(data, dict):
        if "devices" not in data or set(data) - {"devices", "record_exceptions"}:
            raise RequestValidationError({"devices": [SHAPE]})
        record_exceptions = data.get("record_exceptions", False)
        if not isinstance(record_exceptions, bool):
            raise RequestValidationError({"record_exceptions": ["Must be true or false."]})
        data = data["devices"]
    if not isinstance(data, list):
        raise RequestValidationError({"devices": [SHAPE]})
    limit = max_items()
    if len(data) > limit:
        raise RequestValidationError(
            {"devices": [f"At most {limit} devices per call; this request has {len(data)}."]}
        )
    return data, record_exceptions


def _row_from(item) -> tuple[dict | None, dict]:
    """An item as an import row, or its errors.

    JSON scalars go to the importer as they are (its parsers take str, numbers
    and null, and know e.g. a float serial for what it is); only nested values
    are refused here.
    """
    if not isinstance(item, dict):
        return None, {"non_field_errors": ["Each device must be a JSON object."]}
    errors = {
        key: ["Must be text, a number or null."]
        for key, value in item.items()
        if isinstance(value, dict | list)
    }
    if errors:
        return None, errors
    # JSON null clears a stored value; "" and an absent key leave it as it is
    # (DESIGN: a blank never erases). The importer reads null as its clear marker.
    return {key: CLEAR_MARKER if value is None else value for key, value in item.items()}, {}


def _text(row: dict, column: str) -> str:
    value = row.get(column)
    text = "" if value is None else str(value).strip()
    return "" if text == CLEAR_MARKER else text


def _out_of_scope(*, user, rows: dict[int, dict]) -> dict[int, dict]:
    """Per-item errors for units, people and existing devices the caller may not see.

    For a scoped caller an unknown unit or staff number and one outside the
    scope get the same answer, "not found", so the errors reveal nothing about
    other units; an existing device in another unit is refused the same way.
    Units are matched as the importer matches them (its ``Lookups``: code,
    then case-insensitive code, then an unambiguous name). Set-based: the unit
    and maker tables once, then one query for the visible people and one for
    the devices outside the scope (by serial number, and by asset tag for items
    without one).
    """
    scope = unit_scope(user)
    if scope.unrestricted:
        return {}  # nothing is hidden; the importer's own messages apply

    lookups = Lookups(actor=user)
    staff = {_text(r, "assigned_to") for r in rows.values()} - {""}
    visible_people = set(
        Person.objects.visible_to(user)
        .filter(staff_number__in=staff)
        .values_list("staff_number", flat=True)
    )
    serials = {_text(r, "serial_number") for r in rows.values()} - {""}
    hidden_devices = {
        (maker.lower(), serial)
        for maker, serial in Device.objects.filter(serial_number__in=serials)
        .exclude(Device.objects.scope_q(scope))
        .values_list("manufacturer__name", "serial_number")
    }
    # Items without a serial number name their device by asset tag.
    tags = {_text(r, "asset_tag") for r in rows.values() if not _text(r, "serial_number")}
    hidden_tags = set(
        Device.objects.filter(asset_tag__in=tags - {""})
        .exclude(Device.objects.scope_q(scope))
        .values_list("asset_tag", flat=True)
    )
    errors: dict[int, dict] = {}
    for index, row in rows.items():
        item_errors = {}
        code = _text(row, "business_unit")
        if code:
            unit_id = lookups.unit(code)
            if unit_id is None or not lookups.in_scope(unit_id):
                item_errors["business_unit"] = [NOT_FOUND]
        serial = _text(row, "serial_number")
        if (_text(row, "manufacturer").lower(), serial) in hidden_devices or (
            not serial and _text(row, "asset_tag") in hidden_tags
        ):
            # An existing device in another unit: refused exactly as an unknown
            # unit is, so the caller learns nothing about it.
            item_errors["business_unit"] = [NOT_FOUND]
        person = _text(row, "assigned_to")
        if person and person not in visible_people:
            item_errors["assigned_to"] = [NOT_FOUND]
        if item_errors:
            errors[index] = item_errors
    return errors


def bulk_upsert(*, request, data) -> dict:
    items, record_exceptions = _items_from(data)
    if record_exceptions and not has_role(request.user, Role.ASSET_MANAGER):
        raise PermissionDenied(RECORD_EXCEPTIONS_ROLE)
    results: dict[int, dict] = {}
    rows: dict[int, dict] = {}
    for index, item in enumerate(items):
        row, errors = _row_from(item)
        if errors:
            results[index] = {
                "index": index,
                "outcome": "error",
                "device_id": None,
                "errors": errors,
                "codes": {},
            }
        else:
            rows[index] = row
    for index, errors in _out_of_scope(user=request.user, rows=rows).items():
        results[index] = {
            "index": index,
            "outcome": "error",
            "device_id": None,
            "errors": errors,
            "codes": dict.fromkeys(errors, "not_found"),
        }
        del rows[index]
    order = sorted(rows)
    if order:
        outcome = devices_upsert_rows(
            rows=[rows[i] for i in order],
            actor=request.user,
            source=SOURCE,
            mode="valid-rows",
            record_exceptions=record_exceptions,
        )
        for result in outcome.results:
            index = order[result.index]
            results[index] = {
                "index": index,
                "outcome": "error" if result.errors else str(result.outcome),
                "device_id": result.device_id,
                "errors": {k: [str(m) for m in v] for k, v in (result.errors or {}).items()},
                "codes": dict(result.codes),
            }
    ordered = [results[i] for i in sorted(results)]
    counts = {"created": 0, "updated": 0, "unchanged": 0, "error": 0}
    for result in ordered:
        counts[result["outcome"]] = counts.get(result["outcome"], 0) + 1
    return {"counts": counts, "results": ordered}
