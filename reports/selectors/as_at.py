"""The estate as it stood at a moment (a report period's end), in SQL.

The current rows say how the estate stands now; the append-only records say what
changed since. So the state at a past moment T is the current row with every change
recorded at or after T undone: for each field, the value before the earliest change
recorded after T, or the current value when nothing changed it since. Only devices
changed after T are looked at closely (for last month's report, a few per cent of
the estate); every other device is read as it is. The figures therefore depend only
on what was recorded before T and on the records of later changes, both
append-only, and a report for a past month gives the same figures whenever it is
generated.

What records the old value of each field (``devices.DeviceEvent``):

- status: every event's ``from_status`` (every status move writes one, through the
  one mover, the importer and the bulk API); a creation event (``received`` or
  ``imported`` with no from-status) after T means the device did not exist at T;
- business unit, location, model, last seen, OS version, holder, and the asset tag,
  serial number, purchase date and warranty when recorded later:
  ``details["changed"][field] = [old, new]``, as the importer, the bulk API and
  ``device_update`` write them (a refresh swap writes ``business_unit`` and
  ``location`` as ``[old, new]`` at the top of its details);
- the holder also from a reassignment's ``details["from"]`` / ``["to"]``, and from
  the latest record before T that names it (a move into use writes
  ``details["assigned_to"]``, the holder's staff number; a field-history row holds
  ``assigned_to``), because a move out of use records no old holder.

A device with no events at all is taken as it stands (nothing says otherwise).

People as at T come from their field history (django-simple-history): a person
changed after T is read from their latest history row before T; one whose history
begins after T (created after T) was not there at T.

Both relations are SQL fragments (``WITH`` clauses) the figure queries build on,
with named parameters ``cut`` (T) and ``period_end`` (T's date), portable between
PostgreSQL (jsonb operators) and SQLite (JSON1 functions).
"""

from __future__ import annotations

import datetime as dt

from django.db import connection

from devices.models import Device, DeviceEvent, DeviceModel, Person
from reports.selectors.labels import IN_USE

DEVICE = Device._meta.db_table
DEVICE_HISTORY = Device.history.model._meta.db_table
EVENT = DeviceEvent._meta.db_table
MODEL = DeviceModel._meta.db_table
PERSON = Person._meta.db_table
PERSON_HISTORY = Person.history.model._meta.db_table
UNIT = Device._meta.get_field("business_unit").related_model._meta.db_table

CREATION_KINDS = (DeviceEvent.Kind.RECEIVED.value, DeviceEvent.Kind.IMPORTED.value)
REASSIGNED = f"e.kind = '{DeviceEvent.Kind.REASSIGNED.value}'"
IN_USE_SQL = ", ".join(f"'{s}'" for s in IN_USE)


def _has(path: tuple[str, ...]) -> str:
    """SQL: the event's details hold ``path`` (even as JSON null)."""
    if connection.vendor == "postgresql":
        return f"(e.details #> '{{{','.join(path)}}}') IS NOT NULL"
    return f"json_type(e.details, '$.{'.'.join(path)}') IS NOT NULL"


def _text(path: tuple[str, ...], index: int | None = None) -> str:
    """SQL: the text at ``path`` (and list ``index``) of the event's details, or NULL."""
    if connection.vendor == "postgresql":
        parts = [*path, *([] if index is None else [str(index)])]
        return f"(e.details #>> '{{{','.join(parts)}}}')"
    suffix = "" if index is None else f"[{index}]"
    return f"json_extract(e.details, '$.{'.'.join(path)}{suffix}')"


def _is(kind: str, key: str) -> str:
    """SQL: the top-level ``key`` of the event's details is a JSON ``kind`` (array, string)."""
    if connection.vendor == "postgresql":
        return f"jsonb_typeof(e.details -> '{key}') = '{kind}'"
    sqlite_kind = {"array": "array", "string": "text"}[kind]
    return f"json_type(e.details, '$.{key}') = '{sqlite_kind}'"


def _timestamp(expr: str) -> str:
    """SQL: an event's ISO date-time text as the database's own date-time type (on
    SQLite, text in the form Django stores, so the two compare)."""
    if connection.vendor == "postgresql":
        return f"CAST({expr} AS timestamptz)"
    # Events hold UTC times as "2026-10-29 08:00:00.5+00:00" or ISO with a T; Django
    # stores "2026-10-29 08:00:00.500000" (UTC).
    return f"replace(replace({expr}, '+00:00', ''), 'T', ' ')"


def _date(expr: str) -> str:
    """SQL: an event's ISO date text as the database's date type (on SQLite, text in
    the form Django stores)."""
    if connection.vendor == "postgresql":
        return f"CAST({expr} AS date)"
    return expr


def _changed_or_top(field: str) -> tuple[str, str]:
    """(condition, old value) for a field recorded as changed.<field> = [old, new] or,
    by a refresh swap, as <field> = [old, new] at the top of the details."""
    changed = ("changed", field)
    return (
        f"({_has(changed)} OR {_is('array', field)})",
        f"CASE WHEN {_has(changed)} THEN {_text(changed, 0)} ELSE {_text((field,), 0)} END",
    )


# field -> (condition an event after T must meet to reveal the field's old value,
# the old value as text)
def _reveals() -> dict[str, tuple[str, str]]:
    creation = ", ".join(f"'{k}'" for k in CREATION_KINDS)
    return {
        "status": (f"(e.from_status <> '' OR e.kind IN ({creation}))", "e.from_status"),
        "unit": _changed_or_top("business_unit"),
        "location": _changed_or_top("location"),
        "holder": (
            f"({_has(('changed', 'assigned_to'))} OR ({REASSIGNED} AND {_has(('from',))}))",
            f"CASE WHEN {_has(('changed', 'assigned_to'))}"
            f" THEN {_text(('changed', 'assigned_to'), 0)} ELSE {_text(('from',))} END",
        ),
        # No old value: whether a record since changed the holder without naming the
        # old one (a move out of use; the one mover naming a new holder, as an import
        # or bulk row handing a device in use to someone else does), so the holder then
        # must be looked up.
        "holder_unrecorded": (
            f"((e.from_status IN ({IN_USE_SQL}) AND e.to_status <> ''"
            f" AND e.to_status NOT IN ({IN_USE_SQL})) OR {_is('string', 'assigned_to')})",
            "CAST(NULL AS text)" if connection.vendor == "postgresql" else "NULL",
        ),
        "seen": (_has(("changed", "last_seen")), _text(("changed", "last_seen"), 0)),
        # Recorded later (a serial first recorded, a purchase date filled in): the
        # period's report shows what was on the record at its end.
        "tag": (_has(("changed", "asset_tag")), _text(("changed", "asset_tag"), 0)),
        "serial": (_has(("changed", "serial_number")), _text(("changed", "serial_number"), 0)),
        "purchase": (_has(("changed", "purchase_date")), _text(("changed", "purchase_date"), 0)),
        "warranty": (
            _has(("changed", "warranty_expires")),
            _text(("changed", "warranty_expires"), 0),
        ),
        "model": (_has(("changed", "model")), _text(("changed", "model"), 0)),
        "os": (_has(("changed", "os_version")), _text(("changed", "os_version"), 0)),
    }


def _changes_ctes() -> str:
    """``WITH`` clauses (without the WITH) ending in ``changed``: per device changed at
    or after ``%(cut)s``, the value before the earliest later change of each field and
    whether there was one."""
    reveals = _reveals()
    # Constant SQL: the field names and JSON paths are this module's own.
    template = (
        "SELECT e.device_id, e.occurred_at, e.id, '{}' AS field, {} AS old FROM post e WHERE {}"
    )
    branches = "\n            UNION ALL\n".join(
        "            " + template.format(field, old, condition)
        for field, (condition, old) in reveals.items()
    )
    pivots = ",\n".join(
        f"               MAX(CASE WHEN field = '{field}' THEN 1 ELSE 0 END) AS has_{field},"
        f" MAX(CASE WHEN field = '{field}' THEN old END) AS {field}_old"
        for field in reveals
    )
    return f"""
        post AS (
            -- Every event recorded at or after the cut-off: the only ones that can
            -- make a device's state then differ from its row now.
            SELECT e.id, e.device_id, e.occurred_at, e.kind, e.from_status, e.to_status,
                   e.details
            FROM {EVENT} e WHERE e.occurred_at >= %(cut)s
        ),
        reveal AS (
            SELECT device_id, field, old,
                   ROW_NUMBER() OVER (PARTITION BY device_id, field
                                      ORDER BY occurred_at, id) AS rn
            FROM (
{branches}
            ) r
        ),
        changed AS (
            -- Per device changed since: the value before the earliest later change of
            -- each field, and whether there was one.
            SELECT device_id,
{pivots}
            FROM reveal WHERE rn = 1
            GROUP BY device_id
        )"""  # noqa: S608 - table names from model metadata, values are named parameters


def _resolved_ctes(changed: str) -> str:
    """``WITH`` clauses (without the WITH) ending in ``resolved``: each device in the
    table ``changed`` (``_changes_ctes``'s rows) with its columns as they were at
    ``%(cut)s`` (status '' when it did not exist yet)."""
    names_holder = (
        f"({_has(('changed', 'assigned_to'))} OR {_is('string', 'assigned_to')}"
        f" OR ({REASSIGNED} AND {_is('string', 'to')}))"
    )
    holder_named = (
        f"CASE WHEN {_has(('changed', 'assigned_to'))}"
        f" THEN {_text(('changed', 'assigned_to'), 1)}"
        f" WHEN {REASSIGNED} THEN {_text(('to',))}"
        f" ELSE {_text(('assigned_to',))} END"
    )
    status_at = "CASE WHEN c.has_status = 1 THEN c.status_old ELSE d.status END"
    # The holder is looked up only where the rewind cannot tell it: a device in use at
    # the cut-off whose holder a later record changed without naming the old one, and
    # whose holder was never recorded as changed since (a recorded change's old value
    # is the holder then; with neither, today's holder is).
    in_use_then = (
        f"(c.has_holder_unrecorded = 1 AND c.has_holder = 0"
        f" AND (c.has_status = 0 OR c.status_old IN ({IN_USE_SQL})))"
    )
    return f"""
        named AS (
            -- The holder at the cut-off of each device that was in use then and whose
            -- holder changed since with no record of the old one, from the latest record
            -- before the cut-off that names one: an event (a move into use, a
            -- reassignment, an import's change: a staff number) or a field-history row
            -- (a person id).
            SELECT x.device_id, COALESCE(x.person_id, np.id) AS person_id FROM (
                SELECT device_id, person_id, staff,
                       ROW_NUMBER() OVER (PARTITION BY device_id
                                          ORDER BY at DESC, source DESC, rid DESC) AS rn
                FROM (
                    SELECT e.device_id, e.occurred_at AS at, 1 AS source, e.id AS rid,
                           CAST(NULL AS bigint) AS person_id, {holder_named} AS staff
                    FROM {EVENT} e
                    JOIN {changed} c ON c.device_id = e.device_id
                    WHERE e.occurred_at < %(cut)s AND {names_holder} AND {in_use_then}
                    UNION ALL
                    SELECT h.id, h.history_date, 0, h.history_id, h.assigned_to_id, NULL
                    FROM {DEVICE_HISTORY} h
                    JOIN {changed} c ON c.device_id = h.id
                    WHERE h.history_date < %(cut)s AND {in_use_then}
                ) records
            ) x
            LEFT JOIN {PERSON} np ON x.person_id IS NULL AND np.staff_number = x.staff
            WHERE x.rn = 1
        ),
        resolved AS (
            SELECT c.device_id AS id,
                   CASE WHEN c.has_tag = 1 THEN c.tag_old ELSE d.asset_tag END AS asset_tag,
                   CASE WHEN c.has_serial = 1 THEN c.serial_old ELSE d.serial_number END
                       AS serial_number,
                   d.manufacturer_id,
                   CASE WHEN c.has_purchase = 1 THEN {_date("c.purchase_old")}
                        ELSE d.purchase_date END AS purchase_date,
                   CASE WHEN c.has_warranty = 1 THEN {_date("c.warranty_old")}
                        ELSE d.warranty_expires END AS warranty_expires,
                   {status_at} AS status,
                   COALESCE(CASE WHEN c.has_unit = 1 THEN ou.id END, d.business_unit_id)
                       AS business_unit_id,
                   COALESCE(CASE WHEN c.has_model = 1 THEN om.id END, d.device_model_id)
                       AS device_model_id,
                   CASE WHEN ({status_at}) NOT IN ({IN_USE_SQL}) THEN NULL
                        WHEN n.device_id IS NOT NULL THEN n.person_id
                        WHEN c.has_holder = 1 THEN rp.id
                        WHEN d.status IN ({IN_USE_SQL}) THEN d.assigned_to_id
                   END AS assigned_to_id,
                   CASE WHEN c.has_seen = 1 THEN {_timestamp("c.seen_old")}
                        ELSE d.last_seen END AS last_seen,
                   CASE WHEN c.has_location = 1 THEN COALESCE(c.location_old, '')
                        ELSE d.location END AS location,
                   CASE WHEN c.has_os = 1 THEN COALESCE(c.os_old, '')
                        ELSE d.os_version END AS os_version
            FROM {changed} c
            JOIN {DEVICE} d ON d.id = c.device_id
            LEFT JOIN {UNIT} ou ON c.has_unit = 1 AND ou.code = c.unit_old
            LEFT JOIN {MODEL} om
                   ON c.has_model = 1 AND om.manufacturer_id = d.manufacturer_id
                  AND om.name = c.model_old
            LEFT JOIN named n ON n.device_id = c.device_id
            LEFT JOIN {PERSON} rp ON c.has_holder = 1 AND rp.staff_number = c.holder_old
        )"""  # noqa: S608 - table names from model metadata, values are named parameters


def _not_changed(column: str, table: str, ids_param: str) -> str:
    """SQL: ``column`` is not one of the rows read into ``table`` by ``prepare``. On
    PostgreSQL an array parameter (hashed, and safe for parallel workers, which may not
    read a temporary table); on SQLite a subquery."""
    if connection.vendor == "postgresql":
        return f"{column} <> ALL(CAST(%({ids_param})s AS bigint[]))"
    return f"{column} NOT IN (SELECT id FROM {table})"  # noqa: S608 - constant SQL


DEVICE_COLUMNS = (
    "id, asset_tag, serial_number, manufacturer_id, purchase_date, warranty_expires, "
    "status, business_unit_id, device_model_id, assigned_to_id, last_seen, location, "
    "os_version"
)


def devices_as_at_ctes() -> str:
    """A ``WITH`` clause (without the WITH) ``asat``: every device that existed at
    ``%(cut)s`` with its id, status, business_unit_id, device_model_id,
    assigned_to_id, last_seen, location, os_version, asset tag, serial number,
    purchase date and warranty as they were then, and its manufacturer as it is.
    Needs ``prepare`` first on the connection.

    The devices not changed since are read from their own columns (so a filter on them
    is pushed into the scan of the devices and estimated from the table's
    statistics), the changed ones from ``CHANGED_DEVICES`` as they were."""
    keep = _not_changed("d.id", CHANGED_DEVICES, "changed_devices")
    own = ", ".join(f"d.{c.strip()}" for c in DEVICE_COLUMNS.split(","))
    return f"""
        asat AS (
            SELECT {own} FROM {DEVICE} d WHERE {keep}
            UNION ALL
            -- A device whose first event after the cut-off created it was not there yet.
            SELECT {DEVICE_COLUMNS} FROM {CHANGED_DEVICES} WHERE status <> ''
        )"""  # noqa: S608 - table names from model metadata, values are named parameters


def grouped_as_at(branch: str) -> str:
    """SQL: ``branch`` (a grouped SELECT over the devices as at the cut-off, written
    against ``{devices} d`` and ending its WHERE with ``{only}``) once over the devices
    not changed since, read from their own columns, and once over the changed ones as
    they were, as a UNION ALL for the caller to regroup (its aggregates must add up:
    counts and sums). Needs ``prepare`` first.

    Grouping each half apart lets PostgreSQL group the unchanged devices in its
    parallel workers, which hand the leader a few hundred groups instead of a million
    rows (a temporary table, which workers cannot read, in the same relation as the
    devices kept the whole grouping in the leader: about three times the time at
    1,000,000 devices). A subquery the branch names twice (the CTE of a WITH) must be
    ``NOT MATERIALIZED``, or its scan, too, is kept in the leader."""
    keep = _not_changed("d.id", CHANGED_DEVICES, "changed_devices")
    return "\n        UNION ALL\n".join(
        branch.format(devices=devices, only=only)
        for devices, only in (
            (DEVICE, keep),
            # A device whose first event after the cut-off created it was not there yet.
            (CHANGED_DEVICES, "d.status <> ''"),
        )
    )


def _changed_people_ctes() -> str:
    """``WITH`` clauses (without the WITH) ending in ``people_changed``: each person whose
    history has a row at or after ``%(cut)s``, whether they were created since, and
    their latest row before it (if any)."""
    return f"""
        people_since AS (
            SELECT h.id, MAX(CASE WHEN h.history_type = '+' THEN 1 ELSE 0 END) AS born_after
            FROM {PERSON_HISTORY} h WHERE h.history_date >= %(cut)s
            GROUP BY h.id
        ),
        people_before AS (
            SELECT id, business_unit_id, role_profile_id, start_date, leaver_date FROM (
                SELECT h.id, h.business_unit_id, h.role_profile_id, h.start_date,
                       h.leaver_date,
                       ROW_NUMBER() OVER (PARTITION BY h.id
                                          ORDER BY h.history_date DESC, h.history_id DESC) AS rn
                FROM {PERSON_HISTORY} h JOIN people_since s ON s.id = h.id
                WHERE h.history_date < %(cut)s
            ) x WHERE rn = 1
        ),
        people_changed AS (
            SELECT s.id, s.born_after, b.id AS before_id, b.business_unit_id,
                   b.role_profile_id, b.start_date, b.leaver_date
            FROM people_since s LEFT JOIN people_before b ON b.id = s.id
        )"""  # noqa: S608 - table names from model metadata, values are named parameters


def people_as_at_ctes() -> str:
    """A ``WITH`` clause (without the WITH) ``people_at``: every person on the records
    at ``%(cut)s`` with their id, staff_number, business_unit_id, role_profile_id,
    start_date and leaver_date as they were then. Needs ``prepare`` first."""
    keep = _not_changed("p.id", CHANGED_PEOPLE, "changed_people")
    return f"""
        people_at AS (
            SELECT p.id, p.staff_number, p.business_unit_id, p.role_profile_id, p.start_date,
                   p.leaver_date
            FROM {PERSON} p WHERE {keep}
            UNION ALL
            SELECT p.id, p.staff_number,
                   CASE WHEN b.before_id IS NULL THEN p.business_unit_id
                        ELSE b.business_unit_id END,
                   CASE WHEN b.before_id IS NULL THEN p.role_profile_id
                        ELSE b.role_profile_id END,
                   CASE WHEN b.before_id IS NULL THEN p.start_date ELSE b.start_date END,
                   CASE WHEN b.before_id IS NULL THEN p.leaver_date ELSE b.leaver_date END
            FROM {CHANGED_PEOPLE} b JOIN {PERSON} p ON p.id = b.id
            WHERE b.born_after = 0
        )"""  # noqa: S608 - table names from model metadata, values are named parameters


# Temporary tables (dropped at the end of the transaction on PostgreSQL) holding the
# devices and people changed since the cut-off, read once per connection by ``prepare``.
CHANGES = "reports_asat_changes"
CHANGED_DEVICES = "reports_asat_changed_devices"
CHANGED_PEOPLE = "reports_asat_changed_people"


def prepare(query_params: dict) -> None:
    """Read what changed since the cut-off once, into temporary tables on this
    connection, for the figure queries that follow in the same transaction: the
    earliest later change of each field per device (``CHANGES``), the changed devices
    as they were (``CHANGED_DEVICES``) and the changed people as they were
    (``CHANGED_PEOPLE``). Each step reads the last one's table with its statistics, so
    the planner knows how many rows it joins (estimated through the CTEs, it guessed a
    handful and nested 57,000 devices over 40,000 holders: minutes). On PostgreSQL the
    ids of the changed devices and people are added to ``query_params`` (arrays the
    queries exclude from the current rows). Per table: a drop of any earlier one, the
    create, and on PostgreSQL the ANALYZE (and the read of the ids); on PostgreSQL
    first the planner's cost of a page read by index."""
    postgres = connection.vendor == "postgresql"
    schema = "pg_temp" if postgres else "temp"
    # Dropped at the end of the outermost transaction on PostgreSQL; a second read in
    # the same transaction (or any read on SQLite) replaces the first's.
    on_commit = " ON COMMIT DROP" if postgres else ""
    steps = (
        (CHANGES, _changes_ctes(), "changed", None),
        (CHANGED_DEVICES, _resolved_ctes(CHANGES), "resolved", "changed_devices"),
        (CHANGED_PEOPLE, _changed_people_ctes(), "people_changed", "changed_people"),
    )
    with connection.cursor() as cursor:
        if postgres:
            # The changed rows are looked up by index among an estate held in memory: at
            # the default random_page_cost (4, for spinning disks) the planner scanned
            # all 1,700,000 events and 1,000,000 devices instead (measured 1.7-2.6 s
            # against 1.1 s). For the rest of this transaction (SET LOCAL).
            cursor.execute("SELECT set_config('random_page_cost', '1.1', true)")
        for table, ctes, final, key in steps:
            cursor.execute(f"DROP TABLE IF EXISTS {schema}.{table}")
            cursor.execute(
                f"CREATE TEMPORARY TABLE {table}{on_commit} AS"  # noqa: S608 - constant SQL
                f" WITH {ctes} SELECT * FROM {final}",
                query_params,
            )
            if postgres:
                cursor.execute(f"ANALYZE {table}")
                if key:
                    cursor.execute(f"SELECT id FROM {table}")  # noqa: S608 - constant SQL
                    query_params[key] = [row[0] for row in cursor.fetchall()]


def export() -> dict[str, tuple[list[str], list[tuple]]]:
    """PostgreSQL, after ``prepare``: the changed devices and people as read, so a second
    connection in the same snapshot can ``load`` them instead of reading them again.
    Two queries."""
    out = {}
    with connection.cursor() as cursor:
        for table in (CHANGED_DEVICES, CHANGED_PEOPLE):
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - constant SQL
            out[table] = ([col.name for col in cursor.description], cursor.fetchall())
    return out


def load(query_params: dict, exported: dict[str, tuple[list[str], list[tuple]]]) -> None:
    """PostgreSQL: on a second connection in the same snapshot, the tables ``prepare``
    read on the first, from ``export``'s rows: each created empty with the same
    columns (the read stopped at LIMIT 0), filled by COPY, analysed; their ids added to
    ``query_params`` as ``prepare`` does."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('random_page_cost', '1.1', true)")
        for table, ctes, final in (
            (CHANGES, _changes_ctes(), "changed"),
            (CHANGED_DEVICES, _resolved_ctes(CHANGES), "resolved"),
            (CHANGED_PEOPLE, _changed_people_ctes(), "people_changed"),
        ):
            cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{table}")
            cursor.execute(
                f"CREATE TEMPORARY TABLE {table} ON COMMIT DROP AS"  # noqa: S608 - constant SQL
                f" WITH {ctes} SELECT * FROM {final} LIMIT 0",
                query_params,
            )
        for table, key in (
            (CHANGED_DEVICES, "changed_devices"),
            (CHANGED_PEOPLE, "changed_people"),
        ):
            columns, rows = exported[table]
            with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(f"ANALYZE {table}")
            query_params[key] = [row[columns.index("id")] for row in rows]


def plan_for_scans() -> None:
    """PostgreSQL: the rest of the transaction scans and groups the whole estate as at
    the period's end. The planner cannot estimate how many rows an as-at relation
    keeps (a union of the current rows and the changed ones: it guesses), and on a low
    guess picks nested loops over 700,000 holders and sorts of 850,000 rows (measured
    4-15 s at 1,000,000 devices). Hash joins and hash aggregates are what these
    statements need whatever the guess, so nested loops and sorts are priced out for
    the rest of the transaction (SET LOCAL; an ORDER BY still sorts its result)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('enable_nestloop', 'off', true),"
            " set_config('enable_sort', 'off', true)"
        )


def params(cut: dt.datetime, period_end: dt.date) -> dict:
    """The named parameters every as-at query takes."""
    return {
        "cut": connection.ops.adapt_datetimefield_value(cut),
        "period_end": connection.ops.adapt_datefield_value(period_end),
    }
