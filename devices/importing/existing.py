"""Step 2's queries: the existing devices a batch names (by manufacturer + serial, or
by asset tag for rows without a serial), the people, and who holds each asset tag. A
few set-based queries per batch, never one per row: on PostgreSQL with one array
parameter each, elsewhere IN lists in chunks."""

from __future__ import annotations

import datetime as dt

from django.db import connection

from devices.importing.rows import chunks
from devices.models import Device, Person


def lookup(staff_numbers, keys, tags, by_tag):
    """``(people, existing, tag_owner, existing_by_tag)`` for a batch: staff number ->
    person id; (manufacturer id, serial) -> the device's current values; asset tag ->
    (device id, serial, unit id); asset tag -> current values (rows without a serial,
    and devices without a recorded serial whose tag a row with a serial names)."""
    if connection.vendor == "postgresql":
        return _lookup_postgres(staff_numbers, keys, tags, by_tag)
    return _lookup_orm(staff_numbers, keys, tags, by_tag)


def _tags_to_look_up(tags: dict, existing: dict, tag_owner: dict, by_tag: dict) -> list[str]:
    """The tags whose owner a query must find. A row whose own device already
    carries the tag it names needs no query: asset tags are unique, so that
    device is the owner (on a re-import that is most tagged rows); nor does a tag
    already looked up for a row without a serial."""
    wanted = []
    for tag, key in tags.items():
        current = by_tag.get(tag)
        if current is None:
            current = existing.get(key) if key is not None else None
        if current is not None and current["asset_tag"] == tag:
            tag_owner[tag] = (current["pk"], current["serial_number"], current["business_unit_id"])
        else:
            wanted.append(tag)
    return wanted


def _owners_without_serial(tag_owner: dict, existing_by_tag: dict) -> list[str]:
    """Tags carried by a device whose serial is not recorded and not yet read in
    full: a row giving that tag and a serial number no device has records the
    serial on that device, so validation needs its current values. (Rare: one
    query only when there are any.)"""
    return [
        tag
        for tag, (_pk, serial, _unit) in tag_owner.items()
        if serial is None and tag not in existing_by_tag
    ]


_DEVICE_FIELDS = (
    "pk",
    "manufacturer_id",
    "serial_number",
    "asset_tag",
    "device_model_id",
    "status",
    "business_unit_id",
    "assigned_to_id",
    "assigned_to__staff_number",
    "location",
    "purchase_date",
    "warranty_expires",
    "purchase_cost",
    "last_seen",
    "os_version",
    "version",
)
_EXISTING_SQL = """
SELECT d.id, d.manufacturer_id, d.serial_number, d.asset_tag, d.device_model_id, d.status,
       d.business_unit_id, d.assigned_to_id, p.staff_number, d.location,
       d.purchase_date, d.warranty_expires, d.purchase_cost,
       d.last_seen AT TIME ZONE 'UTC', d.os_version, d.version
FROM devices_device d
JOIN unnest(string_to_array(%s, ',')::bigint[], string_to_array(%s, %s)) AS k(mid, serial)
  ON d.manufacturer_id = k.mid AND d.serial_number = k.serial
LEFT JOIN devices_person p ON p.id = d.assigned_to_id
"""
# The same columns for the devices carrying the asset tags of rows without a serial.
_EXISTING_BY_TAG_SQL = """
SELECT d.id, d.manufacturer_id, d.serial_number, d.asset_tag, d.device_model_id, d.status,
       d.business_unit_id, d.assigned_to_id, p.staff_number, d.location,
       d.purchase_date, d.warranty_expires, d.purchase_cost,
       d.last_seen AT TIME ZONE 'UTC', d.os_version, d.version
FROM devices_device d
LEFT JOIN devices_person p ON p.id = d.assigned_to_id
WHERE d.asset_tag = ANY(string_to_array(%s, %s))
"""


# Lists go to PostgreSQL as one text parameter split server-side: adapting a
# 20,000-element Python list to an array costs more than the query. The ASCII
# unit separator cannot appear in a parsed serial, tag or staff number (the
# parsers refuse control characters).
_SEP = "\x1f"


def _device_row(found) -> dict:
    current = dict(zip(_DEVICE_FIELDS, found, strict=True))
    if current["last_seen"] is not None:
        current["last_seen"] = current["last_seen"].replace(tzinfo=dt.UTC)
    return current


def _lookup_postgres(staff_numbers, keys, tags, by_tag):
    """Three queries with array parameters (one placeholder each, however many
    rows), and a fourth for rows without a serial. No row locks: the upsert's
    version check guards the write instead, so unchanged rows are never locked."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT staff_number, id FROM devices_person "
            "WHERE staff_number = ANY(string_to_array(%s, %s))",
            [_SEP.join(staff_numbers), _SEP],
        )
        people = dict(cursor.fetchall())
        existing = {}
        if keys:
            cursor.execute(
                _EXISTING_SQL,
                [",".join(str(k[0]) for k in keys), _SEP.join(k[1] for k in keys), _SEP],
            )
            # last_seen comes back as naive UTC: psycopg's C loader reads it,
            # where an aware timestamp goes through Django's slower Python one.
            for found in cursor.fetchall():
                existing[(found[1], found[2])] = _device_row(found)
        existing_by_tag = {}
        if by_tag:
            cursor.execute(_EXISTING_BY_TAG_SQL, [_SEP.join(by_tag), _SEP])
            for found in cursor.fetchall():
                existing_by_tag[found[3]] = _device_row(found)
        tag_owner: dict[str, tuple[int, str]] = {}
        wanted = _tags_to_look_up(tags, existing, tag_owner, existing_by_tag)
        if wanted:
            cursor.execute(
                "SELECT asset_tag, id, serial_number, business_unit_id FROM devices_device "
                "WHERE asset_tag = ANY(string_to_array(%s, %s))",
                [_SEP.join(wanted), _SEP],
            )
            tag_owner.update(
                (tag, (pk, serial, unit)) for tag, pk, serial, unit in cursor.fetchall()
            )
        unrecorded = _owners_without_serial(tag_owner, existing_by_tag)
        if unrecorded:
            cursor.execute(_EXISTING_BY_TAG_SQL, [_SEP.join(unrecorded), _SEP])
            for found in cursor.fetchall():
                existing_by_tag[found[3]] = _device_row(found)
    return people, existing, tag_owner, existing_by_tag


def _lookup_orm(staff_numbers, keys, tags, by_tag):
    """The portable lookups: IN lists in chunks, existing rows locked for the
    write where the database supports it."""
    people: dict[str, int] = {}
    for chunk in chunks(staff_numbers):
        people.update(
            Person.objects.filter(staff_number__in=chunk).values_list("staff_number", "pk")
        )
    serials_by_maker: dict[int, list[str]] = {}
    for mid, serial in keys:
        serials_by_maker.setdefault(mid, []).append(serial)
    existing: dict[tuple[int, str], dict] = {}
    lock = connection.features.has_select_for_update
    for mid, serials in serials_by_maker.items():
        for chunk in chunks(serials):
            qs = Device.objects.filter(manufacturer_id=mid, serial_number__in=chunk)
            if lock:
                qs = qs.select_for_update().order_by("pk")
            for found in qs.values(*_DEVICE_FIELDS):
                existing[(mid, found["serial_number"])] = found
    existing_by_tag: dict[str, dict] = {}
    for chunk in chunks(by_tag):
        qs = Device.objects.filter(asset_tag__in=chunk)
        if lock:
            qs = qs.select_for_update().order_by("pk")
        for found in qs.values(*_DEVICE_FIELDS):
            existing_by_tag[found["asset_tag"]] = found
    tag_owner: dict[str, tuple[int, str]] = {}
    for chunk in chunks(_tags_to_look_up(tags, existing, tag_owner, existing_by_tag)):
        for tag, pk, serial, unit in Device.objects.filter(asset_tag__in=chunk).values_list(
            "asset_tag", "pk", "serial_number", "business_unit_id"
        ):
            tag_owner[tag] = (pk, serial, unit)
    for chunk in chunks(_owners_without_serial(tag_owner, existing_by_tag)):
        qs = Device.objects.filter(asset_tag__in=chunk)
        if lock:
            qs = qs.select_for_update().order_by("pk")
        for found in qs.values(*_DEVICE_FIELDS):
            existing_by_tag[found["asset_tag"]] = found
    return people, existing, tag_owner, existing_by_tag
