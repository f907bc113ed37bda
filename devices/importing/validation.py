"""Steps 2 and 3 of the upsert: resolve a batch's rows against the estate (a few
set-based queries, never one per row) and check each row against what it found.

``Lookups`` holds the reference data an import loads once: business units (and
which of them the actor may write to), manufacturers and, per maker on first
use, their models.
"""

from __future__ import annotations

from accounts.models import BusinessUnit
from accounts.scoping import unit_scope
from devices.importing.existing import lookup
from devices.importing.rows import (
    BLANK_AS_NONE,
    IN_USE,
    PLAIN_FIELDS,
    STATUS_LABEL,
    ParsedRow,
    chunks,
)
from devices.models import Category, Device, DeviceModel, Manufacturer, Person
from devices.services import (
    DISPOSAL_STATUSES,
    device_key,
    device_status_move_refusal,
    entitlement_allowances,
    entitlement_exceeded_message,
    entitlement_holdings,
)


class Lookups:
    """Reference data loaded once per import and shared by its batches: business
    units and manufacturers are small tables; models are loaded per maker on
    first use. New makers/models found by a batch are created in its write.

    ``units_in_scope`` holds the ids of the units the actor may write to, from
    ``BusinessUnit.objects.visible_to``; it is None when every unit is open (an
    estate-wide role, or no actor: the management command)."""

    def __init__(self, *, actor, record_exceptions: bool = False):
        # A first migration of an existing estate may record each entitlement
        # exceedance as an exception awaiting review instead of refusing the row.
        self.record_exceptions = record_exceptions
        # Entitlement across the batches of one import: the device keys earlier
        # batches' accepted rows moved, and where they now count ((person, category)).
        self.import_touched: set = set()
        self.import_held_by: dict[tuple[int, str], set] = {}
        self.units_in_scope: set[int] | None = None
        if actor is not None and not unit_scope(actor).unrestricted:
            self.units_in_scope = set(
                BusinessUnit.objects.visible_to(actor).values_list("pk", flat=True)
            )
        self.units_by_code: dict[str, int] = {}
        self.units_by_code_ci: dict[str, int | None] = {}
        self.units_by_name_ci: dict[str, int | None] = {}
        self.unit_code: dict[int, str] = {}
        for pk, code, name in BusinessUnit.objects.values_list("pk", "code", "name"):
            self.units_by_code[code] = pk
            self.unit_code[pk] = code
            ci = code.lower()
            self.units_by_code_ci[ci] = None if ci in self.units_by_code_ci else pk
            ni = name.strip().lower()
            self.units_by_name_ci[ni] = None if ni in self.units_by_name_ci else pk
        self.makers: dict[str, int] = {}
        self.maker_name: dict[int, str] = {}
        for pk, name in Manufacturer.objects.values_list("pk", "name"):
            self.makers.setdefault(name.lower(), pk)
            self.maker_name[pk] = name
        self.makers_loaded: set[int] = set()
        # (manufacturer_id, model name lower) -> (model id, category, name)
        self.models: dict[tuple[int, str], tuple[int, str, str]] = {}
        self.model_name: dict[int, str] = {}

    def unit(self, text: str) -> int | None:
        """A unit's id by its code (exact, then case-insensitive), then by its name
        when that name is unambiguous (Snipe-IT exports carry company names)."""
        found = self.units_by_code.get(text)
        if found is None:
            key = text.lower()
            found = self.units_by_code_ci.get(key)
            if found is None:
                found = self.units_by_name_ci.get(key)
        return found

    def in_scope(self, unit_id: int) -> bool:
        """Whether the actor may write devices of this unit."""
        return self.units_in_scope is None or unit_id in self.units_in_scope

    def load_models(self, maker_ids) -> None:
        wanted = [m for m in maker_ids if m not in self.makers_loaded]
        if not wanted:
            return
        for chunk in chunks(wanted):
            for pk, mid, name, category in DeviceModel.objects.filter(
                manufacturer_id__in=chunk
            ).values_list("pk", "manufacturer_id", "name", "category"):
                self.models.setdefault((mid, name.lower()), (pk, category, name))
                self.model_name[pk] = name
        self.makers_loaded.update(wanted)


def resolve_and_validate(parsed: list[ParsedRow], lookups: Lookups) -> None:
    """Steps 2 and 3: a few queries for the whole batch, then checks per row."""
    validate_batch(parsed, lookups, resolve_batch(parsed, lookups))


def resolve_batch(parsed: list[ParsedRow], lookups: Lookups):
    """Step 2, the queries: makers' models, people, existing devices, tag owners."""
    live = [row for row in parsed if not row.errors]
    # Manufacturers and their models.
    maker_ids = set()
    for row in live:
        row.maker_key = row.values["manufacturer"].lower()
        mid = lookups.makers.get(row.maker_key)
        if mid is not None:
            maker_ids.add(mid)
    lookups.load_models(maker_ids)

    # People named in the batch (rows already in error too, so their report
    # names every problem at once).
    staff_numbers = {row.values["assigned_to"] for row in parsed if row.values.get("assigned_to")}
    # Existing devices, by (manufacturer id, serial).
    keys = []
    # Asset tags named in the batch -> the key of the row naming them (None
    # when the maker is unknown, the row has no serial, or two live rows name
    # the same tag).
    tags: dict[str, tuple[int, str] | None] = {}
    # Rows without a serial number find their device by asset tag.
    by_tag: list[str] = []
    for row in live:
        mid = lookups.makers.get(row.maker_key)
        serial = row.values.get("serial_number")
        key = None
        if mid is not None and serial:
            key = (mid, serial)
            keys.append(key)
        tag = row.values.get("asset_tag")
        if tag:
            tags[tag] = None if tag in tags else key
            if not serial:
                by_tag.append(tag)
    people, existing, tag_owner, existing_by_tag = lookup(staff_numbers, keys, tags, by_tag)
    return people, existing, tag_owner, _lookup_people(people, lookups), existing_by_tag


def _lookup_people(people: dict[str, int], lookups: Lookups) -> dict:
    """What the entitlement and scope checks need of the people a batch names: their
    unit (scoped actors only), their allowance per category and what they hold now.
    A handful of queries per batch (``devices.services``'s set-based reads)."""
    ids = set(people.values())
    unit_of: dict[int, int] = {}
    if ids and lookups.units_in_scope is not None:
        for chunk in chunks(ids):
            unit_of.update(
                Person.objects.filter(pk__in=chunk).values_list("pk", "business_unit_id")
            )
    return {
        "unit_of": unit_of,
        "allowances": entitlement_allowances(person_ids=ids) if ids else {},
        "holdings": entitlement_holdings(person_ids=ids) if ids else {},
        "staff_of": {pk: number for number, pk in people.items()},
    }


def validate_batch(parsed: list[ParsedRow], lookups: Lookups, resolved) -> None:
    """Step 3, pure Python (no query): check each row against what step 2 found."""
    people, existing, tag_owner, about_people, existing_by_tag = resolved
    live = [row for row in parsed if not row.errors]
    live_set = set(map(id, live))
    new_models: dict[tuple[str, str], str] = {}
    for row in live:
        _validate_row(
            row, lookups, people, existing, tag_owner, new_models, about_people, existing_by_tag
        )
    _one_row_per_device(live)
    _check_entitlements([row for row in live if not row.errors], lookups, about_people)
    for row in parsed:
        if id(row) in live_set:
            continue
        values = row.values
        if values.get("business_unit") and lookups.unit(values["business_unit"]) is None:
            row.error("business_unit", f"no business unit has the code {values['business_unit']!r}")
        if values.get("assigned_to") and values["assigned_to"] not in people:
            row.error("assigned_to", f"no person has the staff number {values['assigned_to']!r}")


def _validate_row(
    row: ParsedRow, lookups, people, existing, tag_owner, new_models, about_people, by_tag
) -> None:
    values = row.values
    unit_id = lookups.unit(values["business_unit"])
    if unit_id is None or not lookups.in_scope(unit_id):
        # A unit outside the actor's scope gets the unknown unit's words: the
        # message must not confirm that it exists.
        row.error(
            "business_unit",
            f"no business unit has the code {values['business_unit']!r}",
            code="not_found",
        )
        unit_id = None

    person_id = None
    staff_number = values.get("assigned_to")
    if staff_number:
        person_id = people.get(staff_number)
        if (
            person_id is not None
            and about_people["unit_of"]
            and not lookups.in_scope(about_people["unit_of"].get(person_id, -1))
        ):
            person_id = None  # outside the actor's units: as unknown
        if person_id is None:
            row.error(
                "assigned_to", f"no person has the staff number {staff_number!r}", code="not_found"
            )

    mid = lookups.makers.get(row.maker_key)
    category = values["category"]
    model_lower = values["model"].lower()
    model_id = None
    if mid is not None:
        known = lookups.models.get((mid, model_lower))
        if known is not None:
            model_id, model_category, model_name = known
            if model_category != category:
                row.error(
                    "category",
                    f"{values['manufacturer']} {model_name} is a {model_category}, not a {category}",
                )
    if model_id is None:
        key = (row.maker_key, model_lower)
        pending = new_models.setdefault(key, category)
        if pending != category:
            row.error(
                "category",
                f"{values['manufacturer']} {values['model']} is given as both {pending} and "
                f"{category} in this input",
            )
        row.model_key = key

    serial = values.get("serial_number")
    tag = values.get("asset_tag")
    # Whether the row gives a serial number to a device recorded without one.
    records_serial = False
    if serial:
        current = existing.get((mid, serial)) if mid is not None else None
        if current is None and tag:
            # No device has this serial, but the row's asset tag may be on a device
            # whose serial was never recorded: the row is that device, and records it.
            untagged = by_tag.get(tag)
            if untagged is not None and untagged["serial_number"] is None:
                current = untagged
                records_serial = row.by_tag = True
    else:
        # No serial number: the device is the one carrying the row's asset tag
        # (tags are unique across the estate), or, when none does, a new device
        # recorded by its asset tag alone (its serial not recorded).
        current = by_tag.get(tag)
        row.by_tag = current is not None
    row.existing = current
    if current is not None and not lookups.in_scope(current["business_unit_id"]):
        # The same words as any clash: nothing about the other device or its unit.
        if row.by_tag:
            row.error("asset_tag", f"{tag} is already in use", code="in_use")
        else:
            row.error("serial_number", "is already in use", code="in_use")
        return
    if row.by_tag:
        if current["manufacturer_id"] != mid:
            row.error(
                "manufacturer",
                f"the device with asset tag {tag} is made by "
                f"{lookups.maker_name.get(current['manufacturer_id'], 'another maker')}, not "
                f"{values['manufacturer']} (a device's manufacturer does not change)",
            )
            return
        if not records_serial:
            # From here on the row is that device's, by its own serial number (None
            # when it has none recorded).
            values["serial_number"] = serial = current["serial_number"]

    if tag:
        owner = tag_owner.get(tag)
        if owner is not None and (current is None or owner[0] != current["pk"]):
            # Serial number and asset tag name different devices. The other device's
            # serial only when the actor may see it; outside their units the words
            # must not confirm what holds the tag.
            if not lookups.in_scope(owner[2]):
                message = f"{tag} is already in use"
            elif owner[1] is None:
                message = (
                    f"{tag} is already in use by a device whose serial number is not "
                    f"recorded, and this row's serial number {serial} is another device's: "
                    "a serial number and an asset tag must name the same device"
                )
            else:
                message = (
                    f"{tag} is already in use by the device with serial number {owner[1]}, "
                    f"and this row's serial number is {serial}: a serial number and an "
                    "asset tag must name the same device"
                )
            row.error("asset_tag", message, code="in_use")

    # Status and assignment.
    status = values.get("status") or ""
    historical = False
    if current is None:
        status = status or Device.Status.IN_STOCK.value
        assigned = person_id
        if status == Device.Status.DISPOSED:
            # Disposed before records began: a new row only, marked historical.
            historical = True
        elif status in DISPOSAL_STATUSES:
            row.error(
                "status",
                f"a device is recorded as {STATUS_LABEL[status]} only through a disposal "
                "case: open a disposal case in Disposals (a device disposed of before "
                "records began may be recorded as Disposed)",
                code="disposal_needs_case",
            )
    else:
        old_status = current["status"]
        if status and status != old_status:
            # The mover's own rule (devices.services), so import and mover agree.
            refusal = device_status_move_refusal(from_status=old_status, to_status=status)
            if refusal is not None:
                row.error("status", refusal.message, code=refusal.code)
        status = status or old_status
        if "assigned_to" in values:
            assigned = person_id
        elif status in IN_USE:
            assigned = current["assigned_to_id"]
        else:
            # Leaving use clears the holder, as device_transition does.
            assigned = None
    if staff_number and status not in IN_USE:
        row.error(
            "assigned_to",
            f"a device can be assigned only when deployed or in repair (status is "
            f"{STATUS_LABEL.get(status, status)})",
        )
    elif status == Device.Status.DEPLOYED and assigned is None and not row.errors:
        row.error("assigned_to", "a deployed device must be assigned to a person", code="required")
    if row.errors:
        return

    final = {
        "serial_number": serial or None,
        "asset_tag": tag or (current["asset_tag"] if current else None),
        "device_model_id": model_id,
        "status": status,
        "business_unit_id": unit_id,
        "assigned_to_id": assigned,
    }
    for name in PLAIN_FIELDS:
        if name in values:
            final[name] = values[name]
        elif current is not None:
            final[name] = current[name]
        else:
            final[name] = None if name in BLANK_AS_NONE else ""
    if "asset_tag" in values and values["asset_tag"] is None:
        final["asset_tag"] = None  # [clear] (only on a row with a serial: see rows._parse)
    if current is None:
        final["historical"] = historical
        row.outcome = "created"
        row.final = final
        return
    row.device_id = current["pk"]
    changed = {}
    if records_serial:
        changed["serial_number"] = [None, serial]
    if final["asset_tag"] != current["asset_tag"]:
        changed["asset_tag"] = [current["asset_tag"], final["asset_tag"]]
    if model_id != current["device_model_id"]:
        changed["model"] = [lookups.model_name.get(current["device_model_id"]), values["model"]]
    if status != current["status"]:
        changed["status"] = [current["status"], status]
    if unit_id != current["business_unit_id"]:
        changed["business_unit"] = [
            lookups.unit_code.get(current["business_unit_id"]),
            lookups.unit_code.get(unit_id),
        ]
    if assigned != current["assigned_to_id"]:
        changed["assigned_to"] = [current["assigned_to__staff_number"], staff_number or None]
    for name in PLAIN_FIELDS:
        if final[name] != current[name]:
            # Raw values: converted when the event is written (on PostgreSQL by
            # json.dumps's C encoder, which calls back only for dates/Decimals).
            changed[name] = [current[name], final[name]]
    if changed:
        row.outcome = "updated"
        row.final = final
        row.changed = changed
    else:
        row.outcome = "unchanged"


def _one_row_per_device(rows: list[ParsedRow]) -> None:
    """Two rows of one batch naming the same existing device (one by its serial
    number, the other by its asset tag alone) are both refused: which should win
    cannot be told, and one write must not undo the other."""
    first: dict[int, ParsedRow] = {}
    clashes = []
    for row in rows:
        if row.errors or row.existing is None:
            continue
        other = first.setdefault(row.existing["pk"], row)
        if other is not row:
            clashes.append((other, row))
    for pair in clashes:
        for row, other in (pair, pair[::-1]):
            column = "asset_tag" if row.by_tag else "serial_number"
            message = f"names the same device as row {other.index} of the input"
            if message not in row.errors.get(column, []):
                row.error(column, message)


def _device_key(row: ParsedRow, lookups: Lookups):
    """The device's key as ``entitlement_holdings`` gives it: (maker id, serial), or
    ("tag", asset tag) for a device whose serial is not recorded."""
    current = row.existing
    if current is not None:
        return device_key(
            current["manufacturer_id"], current["serial_number"], current["asset_tag"]
        )
    serial = row.values.get("serial_number")
    if not serial:
        return device_key(None, None, row.values["asset_tag"])
    mid = lookups.makers.get(row.maker_key)
    if mid is None:
        return ("new", row.maker_key, serial)
    return (mid, serial)


def _check_entitlements(rows: list[ParsedRow], lookups: Lookups, about_people: dict) -> None:
    """Rule: entitlement applies at every door (business case: "a strict policy for
    deployment"; DESIGN "Rules at every door"). Each row that would give a person a
    device of a category counts against their role's entitlement plus approved,
    in-date exceptions, after the batch's other moves (and earlier batches' of the
    same import) are taken into account; past it, the row is refused
    ``entitlement_exceeded`` naming the staff number, category, held and allowed, or
    with ``record_exceptions`` kept and marked for an exception awaiting review.
    Pure Python over what ``_lookup_people`` read: no query per row."""
    allowances, holdings = about_people["allowances"], about_people["holdings"]
    staff_of = about_people["staff_of"]
    held: dict[tuple[int, str], set] = {}

    def holding(pid, category):
        found = held.get((pid, category))
        if found is None:
            found = set(holdings.get((pid, category), ())) - lookups.import_touched
            found |= lookups.import_held_by.get((pid, category), set())
            held[(pid, category)] = found
        return found

    changes = []
    for row in rows:
        final = row.final
        if final is None:
            continue  # unchanged: nothing moves
        current = row.existing
        old = current["assigned_to_id"] if current and current["status"] in IN_USE else None
        new = final["assigned_to_id"] if final["status"] in IN_USE else None
        if old == new:
            continue
        changes.append((row, _device_key(row, lookups), old, new, row.values["category"]))
    # Take devices away first, so a swap inside one batch frees the place it fills.
    for _row, key, old, _new, _category in changes:
        if old is not None:
            for category in Category.values:
                holding(old, category).discard(key)
    for row, key, old, new, category in changes:
        if new is None:
            continue
        mine = holding(new, category)
        allowed = allowances.get((new, category), 0)
        if key not in mine and len(mine) + 1 > allowed:
            if lookups.record_exceptions:
                row.exceedance = (new, category, len(mine) + 1, allowed)
            else:
                row.error(
                    "assigned_to",
                    entitlement_exceeded_message(
                        staff_number=staff_of.get(new, str(new)),
                        category=category,
                        held=len(mine) + 1,
                        allowed=allowed,
                    ),
                    code="entitlement_exceeded",
                )
                if old is not None:  # refused: the device stays with its holder
                    holding(old, category).add(key)
                continue
        mine.add(key)
    for row, key, old, new, category in changes:
        if row.errors:
            continue
        lookups.import_touched.add(key)
        if old is not None:
            for other in Category.values:
                lookups.import_held_by.get((old, other), set()).discard(key)
        if new is not None:
            lookups.import_held_by.setdefault((new, category), set()).add(key)
