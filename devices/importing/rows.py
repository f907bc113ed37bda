"""Rows of the estate upsert: the columns it knows, how each cell is parsed, duplicates
in the input, and the per-row state and results a batch carries.

Pure Python, no query: the file importer parses the next batch on a thread of its
own while the database writes the current one.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal

from devices.importing import values as v
from devices.models import Device

CANONICAL_COLUMNS = (
    "serial_number",
    "manufacturer",
    "model",
    "category",
    "business_unit",
    "asset_tag",
    "assigned_to",
    "status",
    "purchase_date",
    "warranty_expires",
    "purchase_cost",
    "location",
    "last_seen",
    "os_version",
)
# Every row needs these, and one of IDENTITY_COLUMNS: a device is matched on its
# manufacturer + serial number, or, for a row without a serial number, on its asset
# tag (unique across the estate); a new row without a serial number creates a device
# recorded by its asset tag alone. Snipe-IT's own import template has no serial column.
REQUIRED_COLUMNS = ("manufacturer", "model", "category", "business_unit")
IDENTITY_COLUMNS = ("serial_number", "asset_tag")
# The refusal of a row with neither, per column.
IDENTITY_REQUIRED = {
    "serial_number": "is required when the row has no asset tag (give one or the other)",
    "asset_tag": "is required when the row has no serial number (give one or the other)",
}

MODES = ("valid-rows", "all-or-nothing")
IN_USE = frozenset({Device.Status.DEPLOYED.value, Device.Status.IN_REPAIR.value})
STATUS_LABEL = dict(Device.Status.choices)

# Columns copied as plain values (the rest are resolved to foreign keys or are
# identity). Order matters: it is the event's ``changed`` order.
PLAIN_FIELDS = (
    "location",
    "purchase_date",
    "warranty_expires",
    "purchase_cost",
    "last_seen",
    "os_version",
)
LOOKUP_CHUNK = 5_000  # keeps IN lists under SQLite's variable limit


def _parse_identifier_serial(value):
    return v.parse_identifier(value, "serial_number")


def _parse_identifier_tag(value):
    return v.parse_identifier(value, "asset_tag")


PARSERS = {
    "serial_number": _parse_identifier_serial,
    "asset_tag": _parse_identifier_tag,
    "manufacturer": lambda value: v.parse_text(value, "manufacturer"),
    "model": lambda value: v.parse_text(value, "model"),
    "category": lambda value: v.parse_choice(value, "category"),
    "status": lambda value: v.parse_choice(value, "status"),
    "business_unit": lambda value: v.parse_text(value, "business_unit"),
    "assigned_to": lambda value: v.parse_text(value, "assigned_to"),
    "location": lambda value: v.parse_text(value, "location"),
    "os_version": lambda value: v.parse_text(value, "os_version"),
    "purchase_date": v.parse_date,
    "warranty_expires": v.parse_date,
    "purchase_cost": v.parse_money,
    "last_seen": v.parse_datetime,
}
# Nullable columns: cleared to NULL (the rest clear to "").
BLANK_AS_NONE = {"purchase_date", "warranty_expires", "purchase_cost", "last_seen"}
# A blank cell (or an absent JSON key, or "") leaves the stored value as it is; a
# value is cleared only by this marker in a file cell (any case) or JSON null in
# the bulk API (which the API turns into this marker). DESIGN: "A blank cell or an
# absent key never erases a stored value."
CLEAR_MARKER = "[clear]"
# What cannot be cleared: a device's identity and the columns every row needs,
# and its status (a status moves through the status machine, never to nothing).
NOT_CLEARABLE = frozenset(REQUIRED_COLUMNS) | {"serial_number", "status"}


@dataclass
class RowResult:
    """What happened to one input row. ``index`` is the caller's row reference
    (position in the list for the API, the file's row number for an import)."""

    index: int
    outcome: str  # created | updated | unchanged | error
    device_id: int | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)
    # Machine-readable reasons for rule refusals, column -> code
    # ("disposal_needs_case", "entitlement_exceeded", ...).
    codes: dict[str, str] = field(default_factory=dict)


@dataclass
class UpsertOutcome:
    """Per-row results and counts. ``applied`` is False for a dry run and for
    an all-or-nothing batch that had errors (then nothing was written)."""

    results: list[RowResult]
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    applied: bool = False
    # Updated rows' changed fields, counted per field ({"location": 40, ...}): what
    # a dry run would change, what a run changed.
    field_changes: dict[str, int] = field(default_factory=dict)
    # The ids of the devices created or updated (known once written), for the
    # estate_changed signal.
    changed_ids: list[int] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
        }


def duplicate_key(manufacturer, serial) -> tuple[str, str]:
    """The identity a row claims: manufacturer (case-insensitive) + exact serial."""
    return (str(manufacturer or "").strip().lower(), str(serial or "").strip())


def find_duplicates(rows) -> tuple[set, set]:
    """Keys and asset tags that occur more than once in ``rows`` (raw dicts)."""
    dup_keys, dup_tags, _count = find_duplicate_cells(
        (row.get("manufacturer"), row.get("serial_number"), row.get("asset_tag")) for row in rows
    )
    return dup_keys, dup_tags


# The columns find_duplicate_cells reads, in its order.
DUPLICATE_CELLS = ("manufacturer", "serial_number", "asset_tag")


def find_duplicate_cells(triples) -> tuple[set, set, int]:
    """Keys and asset tags that occur more than once in ``triples`` of raw
    (manufacturer, serial number, asset tag) values, and how many triples
    there were.

    Returns hashes, not values, so a file-wide pass over a million rows stays
    small in memory; a collision would only over-report, never hide a duplicate.
    """
    seen_keys: set[int] = set()
    dup_keys: set[int] = set()
    seen_tags: set[int] = set()
    dup_tags: set[int] = set()
    blank = hash("")
    count = 0
    for maker, serial, tag in triples:
        count += 1
        if serial not in (None, ""):
            if serial.__class__ is str and maker.__class__ is str:  # duplicate_key, inlined
                h = hash((maker.strip().lower(), serial.strip()))
            else:
                h = hash(duplicate_key(maker, serial))
            if h in seen_keys:
                dup_keys.add(h)
            else:
                seen_keys.add(h)
        if tag not in (None, ""):
            h = hash(str(tag).strip())
            if h in seen_tags:
                dup_tags.add(h)
            elif h != blank:
                seen_tags.add(h)
    return dup_keys, dup_tags, count


def chunks(items, size: int = LOOKUP_CHUNK):
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start : start + size]


class ParsedRow:
    """One row on its way through a batch."""

    __slots__ = (
        "index",
        "raw",
        "values",
        "errors",
        "maker_key",
        "existing",
        "final",
        "changed",
        "outcome",
        "device_id",
        "model_key",
        "codes",
        "exceedance",
        "by_tag",
    )

    def __init__(self, index: int, raw: dict):
        self.index = index
        self.raw = raw
        self.values: dict = {}
        self.errors: dict[str, list[str]] = {}
        self.maker_key = ""
        self.existing = None
        self.final: dict | None = None
        self.changed: dict | None = None
        self.outcome = ""
        self.device_id = None
        self.model_key = None
        self.codes: dict[str, str] = {}
        # (person_id, category, held, allowed) when an entitlement is exceeded and
        # the import records exceptions instead of refusing.
        self.exceedance = None
        # Whether the row (which has no serial number) found its device by asset tag.
        self.by_tag = False

    def error(self, column: str, message: str, code: str | None = None) -> None:
        self.errors.setdefault(column, []).append(message)
        if code:
            self.codes.setdefault(column, code)

    def reset(self, errors: dict[str, list[str]]) -> None:
        """Back to parsed-only (its parse errors), to be validated again."""
        self.errors = errors
        self.maker_key = ""
        self.existing = self.final = self.changed = self.model_key = self.device_id = None
        self.exceedance = None
        self.by_tag = False
        self.codes = {}
        self.outcome = ""


# Columns whose values repeat across an estate (makers, models, units, dates,
# costs...): each distinct cell is parsed once per process and remembered, which
# is most of what makes a million-row import fast. Identifiers are not cached.
_CACHED_COLUMNS = frozenset(PARSERS) - {"serial_number", "asset_tag", "assigned_to"}
_CACHE_LIMIT = 100_000
_parse_cache: dict[str, dict] = {column: {} for column in _CACHED_COLUMNS}


_IDENTIFIERS = frozenset({"serial_number", "asset_tag", "assigned_to"})
_ID_LIMIT = {column: v.MAX_LENGTH[column] for column in _IDENTIFIERS}
_PLAIN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/\-]*\Z")
_LOOKS_SCIENTIFIC = re.compile(r"[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+\Z")


def _parse_cell(column: str, value):
    """(parsed value, None) or (None, message)."""
    try:
        parsed = PARSERS[column](value)
    except v.ValueProblem as problem:
        return None, str(problem)
    if parsed == "" and column in BLANK_AS_NONE:
        parsed = None
    return parsed, None


def _parse(index: int, raw: dict) -> ParsedRow:
    row = ParsedRow(index, raw)
    values = row.values
    for column, value in raw.items():
        if value is None or (value.__class__ is str and (not value or value.isspace())):
            # Blank means unchanged: the column is left out, as if absent.
            if column not in PARSERS:
                row.error(column, "is not a column the import knows")
            continue
        if value.__class__ is str and value[0] in "[ " and value.strip().lower() == CLEAR_MARKER:
            if column not in PARSERS:
                row.error(column, "is not a column the import knows")
            elif column in NOT_CLEARABLE:
                row.error(column, "cannot be cleared", code="not_clearable")
            else:
                values[column] = None if column in BLANK_AS_NONE or column == "asset_tag" else ""
            continue
        if column in _IDENTIFIERS and value.__class__ is str:
            # The common case of a plain identifier, without the general parser.
            text = value.strip()
            if _PLAIN_ID.match(text) and len(text) <= _ID_LIMIT[column]:
                if text[-1].isdigit() and _LOOKS_SCIENTIFIC.match(text):
                    hit = _parse_cell(column, value)
                else:
                    values[column] = text
                    continue
            else:
                hit = _parse_cell(column, value)
        elif (cache := _parse_cache.get(column)) is not None and value.__class__ is str:
            hit = cache.get(value)
            if hit is None:
                hit = _parse_cell(column, value)
                if len(cache) < _CACHE_LIMIT:
                    cache[value] = hit
        elif column in PARSERS:
            hit = _parse_cell(column, value)
        else:
            row.error(column, "is not a column the import knows")
            continue
        if hit[1] is None:
            if hit[0] is None or hit[0] == "":
                continue  # nothing left after parsing: blank, so unchanged
            values[column] = hit[0]
        else:
            row.error(column, hit[1])
    for column in REQUIRED_COLUMNS:
        if column not in row.errors and not values.get(column):
            row.error(column, "is required", code="required")
    identified = values.get("serial_number") or values.get("asset_tag")
    if not identified and "serial_number" not in row.errors and "asset_tag" not in row.errors:
        # Either identifies a device (a device whose serial was never recorded is
        # known by its asset tag), so the refusal names both columns.
        for column in IDENTITY_COLUMNS:
            row.error(column, IDENTITY_REQUIRED[column], code="required")
    return row


def parse_batch(*, rows: list[dict], indexes: list[int], duplicates: tuple[set, set]) -> list:
    """Step 1, pure Python and no database: parse every row and mark duplicates.
    (The file importer runs this for the next batch while the database writes
    the current one.)"""
    dup_keys, dup_tags = duplicates
    parsed = [_parse(i, raw) for i, raw in zip(indexes, rows, strict=True)]
    # Duplicates in the input are errors on every one of the rows involved.
    if dup_keys or dup_tags:
        for row in parsed:
            raw = row.raw
            if (
                dup_keys
                and hash(duplicate_key(raw.get("manufacturer"), raw.get("serial_number")))
                in dup_keys
            ):
                row.error(
                    "serial_number",
                    "appears more than once for this manufacturer in the input",
                )
            tag = raw.get("asset_tag")
            if dup_tags and tag not in (None, "") and hash(str(tag).strip()) in dup_tags:
                row.error("asset_tag", "appears more than once in the input")
    return parsed


def jsonable(value):
    if value is None or value.__class__ is str:
        return value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def event_details(row: ParsedRow, *, convert: bool = True) -> dict:
    details: dict = {"row": row.index}
    if row.changed:
        if convert:
            details["changed"] = {
                name: [jsonable(old), jsonable(new)] for name, (old, new) in row.changed.items()
            }
        else:
            details["changed"] = row.changed
    return details


def opens_at_check(row: ParsedRow) -> bool:
    """Whether a written row deploys its device to someone (new, or a new holder, or
    back into deployed): the deployments that open an AT check for people with AT
    needs (``devices.services.at_checks_open``)."""
    final = row.final
    if final is None or final["status"] != Device.Status.DEPLOYED.value:
        return False
    current = row.existing
    return (
        current is None
        or current["status"] != final["status"]
        or current["assigned_to_id"] != final["assigned_to_id"]
    )


def deployments_of(writes) -> list[tuple[int, int]]:
    """(device_id, person_id) of the written rows that deploy a device."""
    return [
        (row.device_id, row.final["assigned_to_id"])
        for row in writes
        if row.device_id is not None and opens_at_check(row)
    ]
