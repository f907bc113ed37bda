"""The upsert's PostgreSQL write: validated rows are formatted as ``COPY`` text, copied
into a temporary staging table, and one statement upserts the devices and writes
their events. The file importer's writer threads call ``write_staged`` on
connections of their own, prepared by ``writer_connection_prepare``."""

from __future__ import annotations

import datetime as dt
import json

from django.db import connection
from django.utils import timezone

from devices.importing.rows import ParsedRow, event_details, jsonable, opens_at_check
from devices.importing.validation import Lookups
from devices.models import DeviceEvent

_STAGE_COLUMNS = (
    "idx",
    "manufacturer_id",
    "serial_number",
    "asset_tag",
    "device_model_id",
    "status",
    "business_unit_id",
    "assigned_to_id",
    "location",
    "purchase_date",
    "warranty_expires",
    "purchase_cost",
    "last_seen",
    "os_version",
    "version",
    "kind",
    "from_status",
    "details",
    "historical",
    "at_check",
    "device_id",
)
_STAGE_DDL = """
CREATE TEMP TABLE IF NOT EXISTS devices_import_stage (
    idx integer NOT NULL,
    manufacturer_id bigint NOT NULL,
    serial_number varchar(100),
    asset_tag varchar(64),
    device_model_id bigint NOT NULL,
    status varchar(32) NOT NULL,
    business_unit_id bigint NOT NULL,
    assigned_to_id bigint,
    location varchar(200) NOT NULL,
    purchase_date date,
    warranty_expires date,
    purchase_cost numeric(12, 2),
    last_seen timestamptz,
    os_version varchar(100) NOT NULL,
    version integer NOT NULL,
    kind varchar(32) NOT NULL,
    from_status varchar(32) NOT NULL,
    details jsonb NOT NULL,
    historical boolean NOT NULL,
    at_check boolean NOT NULL,
    device_id bigint
) ON COMMIT {on_commit}
"""
_DEVICE_COLUMNS = (
    "manufacturer_id",
    "serial_number",
    "asset_tag",
    "device_model_id",
    "status",
    "business_unit_id",
    "assigned_to_id",
    "location",
    "purchase_date",
    "warranty_expires",
    "purchase_cost",
    "last_seen",
    "os_version",
    "version",
    "historical",
)
# ``historical`` is set only when a row creates a device (disposed before records
# began); an update never changes it.
_UPDATED_COLUMNS = [
    c for c in _DEVICE_COLUMNS if c not in ("manufacturer_id", "serial_number", "historical")
]
# One statement: upsert the staged rows, write their events, return the ids.
# The ON CONFLICT branch only fires when the stored version is still the one
# validation read (the staged version is that plus one): a device someone
# changed in between is left alone and reported, never overwritten blind.
# A "new" row staged with version 1 never matches (versions start at 1), so a
# device created concurrently under the same serial is reported too.
_UPSERTED = f"""
    INSERT INTO devices_device ({", ".join(_DEVICE_COLUMNS)}, created_at, updated_at)
    SELECT {", ".join("s." + c for c in _DEVICE_COLUMNS)}, now(), now()
    FROM devices_import_stage s{{where}}
    ON CONFLICT (manufacturer_id, serial_number) DO UPDATE SET
        {", ".join(f"{c} = EXCLUDED.{c}" for c in _UPDATED_COLUMNS)}, updated_at = now()
    WHERE devices_device.version = EXCLUDED.version - 1
    RETURNING id, manufacturer_id, serial_number, asset_tag
"""  # noqa: S608 - the interpolated names are the constants above, never input
_MATCHED_COLUMNS = "s.idx, s.kind, s.from_status, s.status, s.details, s.assigned_to_id, s.at_check"
_EVENTS = """
, ev AS (
    INSERT INTO devices_deviceevent
        (device_id, kind, occurred_at, recorded_by_id, from_status, to_status, source, details)
    SELECT id, kind, %(now)s, %(actor)s, from_status, status, %(source)s, details FROM matched
), atc AS (
    -- A deployment to someone with AT needs opens an AT check (as
    -- devices.services.at_checks_open does for every other door).
    INSERT INTO devices_atcheck (device_id, person_id, deployed_by_id, deployed_at, note)
    SELECT m.id, m.assigned_to_id, %(actor)s, %(now)s, ''
    FROM matched m JOIN devices_person p ON p.id = m.assigned_to_id
    WHERE m.at_check AND p.at_needs
)
SELECT idx, id FROM matched
"""
_UPSERT_SQL = f"""
WITH up AS ({_UPSERTED.format(where="")}), matched AS (
    SELECT up.id, {_MATCHED_COLUMNS}
    FROM up JOIN devices_import_stage s
      ON s.manufacturer_id = up.manufacturer_id AND s.serial_number = up.serial_number
){_EVENTS}"""  # noqa: S608 - the interpolated names are the constants above, never input
# The same for a batch with devices whose serial is not recorded, which the
# (manufacturer, serial) conflict target cannot find (NULLs are distinct):
# a new one is inserted and found again by its asset tag; an existing one
# (staged with its id) is updated by id, under the same version check, and may
# record its serial. Kept apart so the usual batch keeps the one-join plan.
_UPSERT_BY_TAG_SQL = f"""
WITH up AS ({_UPSERTED.format(where=" WHERE s.device_id IS NULL")}), byid AS (
    UPDATE devices_device d SET serial_number = s.serial_number,
        {", ".join(f"{c} = s.{c}" for c in _UPDATED_COLUMNS)}, updated_at = now()
    FROM devices_import_stage s
    WHERE s.device_id IS NOT NULL AND d.id = s.device_id AND d.version = s.version - 1
    RETURNING d.id, s.idx
), matched AS (
    SELECT up.id, {_MATCHED_COLUMNS}
    FROM up JOIN devices_import_stage s
      ON s.manufacturer_id = up.manufacturer_id AND s.serial_number = up.serial_number
    WHERE s.device_id IS NULL
    UNION ALL
    SELECT up.id, {_MATCHED_COLUMNS}
    FROM up JOIN devices_import_stage s ON s.asset_tag = up.asset_tag
    WHERE up.serial_number IS NULL AND s.serial_number IS NULL AND s.device_id IS NULL
    UNION ALL
    SELECT byid.id, {_MATCHED_COLUMNS}
    FROM byid JOIN devices_import_stage s ON s.idx = byid.idx
){_EVENTS}"""  # noqa: S608 - the interpolated names are the constants above, never input


# COPY's text format: the parsers refuse control characters in text, but a
# backslash (or a JSON escape) must be doubled; tab and line breaks are escaped
# too, so a value can never break out of its column whatever a parser lets by.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_COPY_NULL = "\\N"
_COPY_CHUNK = 5_000  # lines per write: large writes, bounded buffer


# One encoder for every event's details (json.dumps builds a new one per call
# when given ``default``); dates and Decimals call back to jsonable.
_EVENT_DETAILS_JSON = json.JSONEncoder(default=jsonable).encode


def _copy_text(value) -> str:
    if value is None:
        return _COPY_NULL
    if value.__class__ is str:
        return value.translate(_COPY_ESCAPES)
    if isinstance(value, dt.date):  # dates and aware datetimes: ISO 8601
        return value.isoformat()
    return str(value)  # ints and Decimals


def stage_rows(writes: list[ParsedRow], *, lookups: Lookups) -> tuple[list[str], dict]:
    """The staging table's COPY text for validated rows (pure Python, no query),
    in chunks, and the rows by index (to attach the ids the upsert returns).

    Preformatted text rather than ``copy.write_row``, which adapts every value
    through psycopg's per-type dumpers and cost more than the COPY itself
    (0.54 s per 100,000 rows)."""
    by_index: dict[int, ParsedRow] = {}
    chunks: list[str] = []
    makers = lookups.makers
    imported, updated = str(DeviceEvent.Kind.IMPORTED), str(DeviceEvent.Kind.UPDATED)
    encode = _EVENT_DETAILS_JSON
    lines = []
    esc, null = _COPY_ESCAPES, _COPY_NULL
    for row in writes:
        index = row.index
        by_index[index] = row
        final = row.final
        current = row.existing
        if current is None:
            tail = f"1\t{imported}\t\t"
            by_id = null
        else:
            tail = f"{current['version'] + 1}\t{updated}\t{current['status']}\t"
            # A device without a recorded serial is updated by its id (see
            # _UPSERT_BY_TAG_SQL); the rest by their (manufacturer, serial).
            by_id = null if current["serial_number"] is not None else current["pk"]
        if row.changed:
            details = encode(event_details(row, convert=False))
            if "\\" in details:  # JSON text holds no raw control characters
                details = details.replace("\\", "\\\\")
        else:
            details = f'{{"row": {index}}}'  # what json.dumps would write
        # Values inline rather than through _copy_text: this loop runs
        # once per written row and function calls dominate it. Text is
        # escaped only when it holds something to escape (rarely: the parsers
        # refuse control characters), which is cheaper to ask than to do.
        serial, location, os_version = (
            final["serial_number"],
            final["location"],
            final["os_version"],
        )
        if serial is None:
            serial = null
        elif not serial.isprintable() or "\\" in serial:
            serial = serial.translate(esc)
        if location.__class__ is not str or not location.isprintable() or "\\" in location:
            location = _copy_text(location)
        if os_version.__class__ is not str or not os_version.isprintable() or "\\" in os_version:
            os_version = _copy_text(os_version)
        tag, assigned, cost = (
            final["asset_tag"],
            final["assigned_to_id"],
            final["purchase_cost"],
        )
        if tag is None:
            tag = null
        elif not tag.isprintable() or "\\" in tag:
            tag = tag.translate(esc)
        bought, warranty, seen = (
            final["purchase_date"],
            final["warranty_expires"],
            final["last_seen"],
        )
        lines.append(
            f"{index}\t{makers[row.maker_key]}\t{serial}\t"
            f"{tag}\t"
            f"{final['device_model_id']}\t{final['status']}\t{final['business_unit_id']}\t"
            f"{null if assigned is None else assigned}\t{location}\t"
            f"{null if bought is None else bought.isoformat()}\t"
            f"{null if warranty is None else warranty.isoformat()}\t"
            f"{null if cost is None else cost}\t{null if seen is None else seen.isoformat()}\t"
            f"{os_version}\t{tail}{details}\t"
            f"{'t' if final.get('historical') else 'f'}\t{'t' if opens_at_check(row) else 'f'}\t{by_id}\n"
        )
        if len(lines) >= _COPY_CHUNK:
            chunks.append("".join(lines))
            lines.clear()
    if lines:
        chunks.append("".join(lines))
    return chunks, by_index


def write_postgres(
    writes: list[ParsedRow], *, lookups: Lookups, actor, source: str, raw_connection=None
) -> None:
    """COPY the validated rows into a staging table, then one upsert + events."""
    chunks, by_index = stage_rows(writes, lookups=lookups)
    write_staged(chunks, by_index, actor=actor, source=source, raw_connection=raw_connection)


def writer_connection_prepare(raw_connection) -> None:
    """Give a writer connection (psycopg, autocommit) its staging table for
    the session: emptied by every commit, so each batch's transaction finds it
    empty and no batch pays for creating and dropping it (measured 0.1-0.3 s
    of catalogue work per 100,000 rows in batches of 10,000)."""
    raw_connection.execute(_STAGE_DDL.format(on_commit="DELETE ROWS"))


def write_staged(chunks, by_index, *, actor, source: str, raw_connection=None) -> None:
    """The database half of ``write_postgres``: COPY the staged text, then one
    upsert + events; rows the upsert did not return get an error.

    ``raw_connection`` (a psycopg connection prepared by
    ``writer_connection_prepare``, inside a transaction of this one batch) is
    for the file importer's writer threads, which cannot use Django's
    thread-bound connection wrapper."""
    with connection.cursor() if raw_connection is None else raw_connection.cursor() as cursor:
        if raw_connection is None:
            # Inside a caller's transaction, which may stage several batches.
            cursor.execute(_STAGE_DDL.format(on_commit="DROP"))
            cursor.execute("TRUNCATE devices_import_stage")
        raw = getattr(cursor, "cursor", cursor)  # the psycopg cursor, for COPY
        with raw.copy(
            f"COPY devices_import_stage ({', '.join(_STAGE_COLUMNS)}) FROM STDIN"
        ) as copy:
            for chunk in chunks:
                copy.write(chunk)
        if raw_connection is None:
            # Statistics, so the upsert joins its RETURNING rows back to the
            # stage with a hash join.
            cursor.execute("ANALYZE devices_import_stage")
        else:
            # The writer thread's transaction is this one batch's write and
            # nothing else, so the planner can simply be told to hash-join the
            # unanalysed stage: cheaper than ANALYZE (measured 0.3 s per
            # 100,000 rows), and SET LOCAL ends with the transaction.
            cursor.execute("SET LOCAL enable_mergejoin = off")
            cursor.execute("SET LOCAL enable_nestloop = off")
        by_tag = any(
            (row.existing or row.final)["serial_number"] is None for row in by_index.values()
        )
        cursor.execute(
            _UPSERT_BY_TAG_SQL if by_tag else _UPSERT_SQL,
            {"now": timezone.now(), "actor": getattr(actor, "pk", None), "source": source},
        )
        for index, device_id in cursor.fetchall():
            by_index.pop(index).device_id = device_id
    # Whatever was not returned lost a race with another writer.
    for row in by_index.values():
        row.error(
            "serial_number",
            "the device was changed by someone else while this import ran; run it again",
        )
