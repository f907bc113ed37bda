"""Rows that move an existing device to another status go through the one status mover,
``devices.services.devices_status_move``, as every other door does (DESIGN "Rules at
every door"): the same table of allowed moves, the same event per move (kind, from/to,
the holder), the same field-history rows and AT checks as ``device_transition``.

Status moves are a small part of any import (a re-import moves the devices that moved
since the last), so they are written on the caller's connection through the ORM on
every database; the rest of the batch keeps the set-based write (COPY on PostgreSQL).
Per moving row, in one transaction with the batch:

1. the device rows are locked and their versions compared with what validation read:
   a device changed meanwhile is a row error, never overwritten blind (as the COPY
   write's version check does);
2. the row's other changed fields (location, tag, model, unit, dates...) are written;
3. the mover moves the status and sets the holder, in groups by destination status,
   writing its event (details: the file's row) and history;
4. a row that changed more than its status and holder gets the import's ``updated``
   event for those other fields, so its timeline reads the same as a single move
   followed by an edit.
"""

from __future__ import annotations

from django.utils import timezone

from devices.importing.rows import IN_USE, PLAIN_FIELDS, ParsedRow, jsonable
from devices.models import Device, DeviceEvent
from devices.services import EVENT_FOR_STATUS, devices_status_move

# Moves per mover call: each call is one UPDATE per from-status with a CASE of the
# holders, kept well inside SQLite's limit on parameters per statement.
MOVES_PER_CALL = 1_000
# What the mover writes; every other changed field is written here.
_MOVER_FIELDS = frozenset({"status", "assigned_to"})
_OTHER_COLUMNS = {
    "serial_number": "serial_number",  # recorded where it was not
    "asset_tag": "asset_tag",
    "model": "device_model_id",
    "business_unit": "business_unit_id",
    **{name: name for name in PLAIN_FIELDS},
}
CHANGED_MEANWHILE = "the device was changed by someone else while this import ran; run it again"


def moving_rows(writes: list[ParsedRow]) -> list[ParsedRow]:
    """The validated rows that move an existing device to another status."""
    return [
        row
        for row in writes
        if row.outcome == "updated" and row.changed and "status" in row.changed and not row.errors
    ]


def write_moves(rows: list[ParsedRow], *, actor, source: str, now=None) -> list[ParsedRow]:
    """Write the moving ``rows`` (see the module's steps); returns those written. The
    caller holds the transaction. A row whose device changed since validation gets an
    error instead."""
    if not rows:
        return []
    now = now or timezone.now()
    current = dict(
        Device.objects.select_for_update()
        .filter(pk__in=[row.device_id for row in rows])
        .order_by("pk")
        .values_list("pk", "version")
    )
    written = []
    for row in rows:
        if current.get(row.device_id) != row.existing["version"]:
            row.error("serial_number", CHANGED_MEANWHILE)
        else:
            written.append(row)
    if not written:
        return []

    # 2. The other fields first: the mover's update then bumps the version once.
    others = [row for row in written if set(row.changed) - _MOVER_FIELDS]
    columns = sorted(
        {_OTHER_COLUMNS[name] for row in others for name in row.changed if name in _OTHER_COLUMNS}
    )
    if others and columns:
        devices = []
        for row in others:
            device = Device(pk=row.device_id, updated_at=now)
            for column in columns:
                setattr(device, column, row.final[column])
            devices.append(device)
        Device.objects.bulk_update(devices, fields=[*columns, "updated_at"], batch_size=500)

    # 3. The moves, through the one mover, grouped by destination status.
    by_status: dict[str, list[ParsedRow]] = {}
    for row in written:
        by_status.setdefault(row.final["status"], []).append(row)
    for to_status, group in sorted(by_status.items()):
        for start in range(0, len(group), MOVES_PER_CALL):
            part = group[start : start + MOVES_PER_CALL]
            devices_status_move(
                moves=[(row.device_id, row.existing["status"]) for row in part],
                to_status=to_status,
                kind=EVENT_FOR_STATUS.get(to_status, DeviceEvent.Kind.NOTE),
                actor=actor,
                source=source,
                details={row.device_id: {"row": row.index} for row in part},
                now=now,
                holders=(
                    {row.device_id: row.final["assigned_to_id"] for row in part}
                    if to_status in IN_USE
                    else None
                ),
            )

    # 4. The import's own event for what else the row changed.
    actor_id = getattr(actor, "pk", None)
    DeviceEvent.objects.bulk_create(
        [
            DeviceEvent(
                device_id=row.device_id,
                kind=DeviceEvent.Kind.UPDATED,
                occurred_at=now,
                recorded_by_id=actor_id,
                from_status=row.final["status"],
                to_status=row.final["status"],
                source=source,
                details={
                    "row": row.index,
                    "changed": {
                        name: [jsonable(old), jsonable(new)]
                        for name, (old, new) in row.changed.items()
                        if name not in _MOVER_FIELDS
                    },
                },
            )
            for row in others
        ],
        batch_size=1000,
    )
    return written
