"""``POST /api/v1/devices/bulk/``: the importer's upsert, behind the API's scope check.

The rules (parsing, validation, upsert by manufacturer + serial, events) are the
importer's, in ``devices.importing.services.devices_upsert_rows``; this module
only shapes the request, refuses what lies outside the caller's business
units (reported exactly as an unknown unit would be, so nothing about other
units leaks) and shapes the per-item results.
"""

from __future__ import annotations

from accounts.scoping import unit_scope
from api.exceptions import RequestValidationError
from devices.importing.rows import CLEAR_MARKER
from devices.importing.services import devices_upsert_rows
from devices.importing.upsert import Lookups
from devices.models import Device, Person

MAX_ITEMS = 5000
SOURCE = "api"
NOT_FOUND = "not found"


def _items_from(data) -> list:
    if isinstance(data, dict):
        if set(data) != {"devices"}:
            raise RequestValidationError(
                {"devices": ['Send a JSON array of devices or {"devices": [...]}.']}
            )
        data = data["devices"]
    if not isinstance(data, list):
        raise RequestValidationError(
            {"devices": ['Send a JSON array of devices or {"devices": [...]}.']}
        )
    if len(data) > MAX_ITEMS:
        raise RequestValidationError(
            {"devices": [f"At most {MAX_ITEMS} devices per call; this request has {len(data)}."]}
        )
    return data


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
    the devices outside the scope.
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
    errors: dict[int, dict] = {}
    for index, row in rows.items():
        item_errors = {}
        code = _text(row, "business_unit")
        if code:
            unit_id = lookups.unit(code)
            if unit_id is None or not lookups.in_scope(unit_id):
                item_errors["business_unit"] = [NOT_FOUND]
        if (_text(row, "manufacturer").lower(), _text(row, "serial_number")) in hidden_devices:
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
    items = _items_from(data)
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
            rows=[rows[i] for i in order], actor=request.user, source=SOURCE, mode="valid-rows"
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
