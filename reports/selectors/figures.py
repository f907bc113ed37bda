"""The stewardship figures of every unit, as at the period's end.

Every section is computed for ALL units in one grouped query (never one query per
unit) over the estate as it stood at the period's last moment (``as_at``), and then
rolled up each unit's subtree in Python (``rollup``). The number of queries does not
grow with the number of units or devices.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import connection, transaction

from accounts.models import BusinessUnit
from accounts.scoping import UnitScope
from devices.models import DeviceEvent, Entitlement, EntitlementException
from reports import concurrent
from reports.selectors import as_at, refresh_due
from reports.selectors.labels import HELD_STATUSES, IN_USE
from reports.selectors.periods import default_idle_days, idle_cutoff, period_bounds
from reports.selectors.rollup import roll_up as _roll_up

# --- units ------------------------------------------------------------------


def _units(root: BusinessUnit | None) -> list[dict]:
    qs = BusinessUnit.objects.order_by("path").values("id", "code", "name", "path", "active")
    if root is not None:
        qs = qs.within(UnitScope.subtree(root))
    return list(qs)


# --- the sections -----------------------------------------------------------
#
# Every section reads the estate as it stood at the period's end (``as_at``): the
# devices' statuses, units, holders, models and last-seen times, and the people's
# units, roles and dates, reconstructed from the current rows and the append-only
# records of what changed since. Named parameters throughout (``cut``: the period's
# end, exclusive; ``period_end``: its last day).


def _ids(unit_ids) -> str:
    """Unit ids inlined as integers (never text from a request)."""
    return ", ".join(str(int(u)) for u in unit_ids)


def _quoted(values) -> str:
    """Constant status and kind codes of the models, inlined as SQL strings."""
    return ", ".join("'" + str(v).replace("'", "''") + "'" for v in values)


def _execute(sql: str, params: dict) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _device_counts(unit_ids, args):
    """Sections 'devices by category and status', 'stock' and 'idle' in one grouped scan
    of the devices as at the period's end.

    The devices are grouped by unit, model and status (integer keys, no join per
    device), and only those few hundred groups are joined to the model table and
    regrouped by category: ~30% less work at 1,000,000 devices than joining every
    device to its model before one grouping. Rows: dicts with business_unit_id,
    device_model__category, status, n, idle, never_seen.
    """
    unit_filter = f" AND d.business_unit_id IN ({_ids(unit_ids)})" if unit_ids is not None else ""
    branch = f"""
            SELECT d.business_unit_id, d.device_model_id, d.status, COUNT(*) AS n,
                   SUM(CASE WHEN d.last_seen < %(idle_cutoff)s THEN 1 ELSE 0 END) AS idle,
                   SUM(CASE WHEN d.last_seen IS NULL THEN 1 ELSE 0 END) AS never_seen
            FROM {{devices}} d
            WHERE {{only}} AND d.status IN ({_quoted(HELD_STATUSES)}){unit_filter}
            GROUP BY d.business_unit_id, d.device_model_id, d.status"""  # noqa: S608 - constant fragments, ids inlined as integers
    sql = f"""
        SELECT g.business_unit_id, m.category, g.status,
               SUM(g.n), SUM(g.idle), SUM(g.never_seen)
        FROM ({as_at.grouped_as_at(branch)}
        ) g
        JOIN {as_at.MODEL} m ON m.id = g.device_model_id
        GROUP BY g.business_unit_id, m.category, g.status
    """  # noqa: S608 - table names from model metadata, codes and ids inlined as such
    params = {
        **args["params"],
        "idle_cutoff": connection.ops.adapt_datetimefield_value(args["cutoff"]),
    }
    return [
        {
            "business_unit_id": unit_id,
            "device_model__category": category,
            "status": status,
            "n": int(n),
            "idle": int(idle),
            "never_seen": int(never_seen),
        }
        for unit_id, category, status, n, idle, never_seen in _execute(sql, params)
    ]


def _people_filter(unit_ids, alias: str = "p") -> str:
    return f" AND {alias}.business_unit_id IN ({_ids(unit_ids)})" if unit_ids is not None else ""


def _entitled_counts(unit_ids, args):
    """What each unit's people at the period's end (started by then, not yet left)
    are entitled to, by category: people counted by unit and role (no join), times
    the small entitlement table."""
    per_role: dict[int, list[tuple[str, int]]] = {}
    for role_id, category, quantity in Entitlement.objects.values_list(
        "role_profile_id", "category", "quantity"
    ):
        per_role.setdefault(role_id, []).append((category, quantity))
    sql = f"""
        WITH {as_at.people_as_at_ctes()}
        SELECT p.business_unit_id, p.role_profile_id, COUNT(*)
        FROM people_at p
        WHERE p.start_date <= %(period_end)s
          AND (p.leaver_date IS NULL OR p.leaver_date > %(period_end)s){_people_filter(unit_ids)}
        GROUP BY p.business_unit_id, p.role_profile_id
    """  # noqa: S608 - table names from model metadata, ids inlined as integers
    out = []
    for unit_id, role_id, n in _execute(sql, args["params"]):
        for category, quantity in per_role.get(role_id, ()):
            out.append((unit_id, category, quantity * int(n)))
    return out


def _held_by_person(unit_ids, args, part: tuple[int, tuple[int, ...]] | None = None):
    """People over entitlement and leavers still holding devices at the period's end,
    from one pass over the devices then in use, grouped by holder and category.

    A person is over when they hold more of a category than their role (plus any
    exception approved before the period's end and valid at it) allows; a leaver is
    anyone whose leaver date is on or before the period end. Rows: (unit, staff
    number, leaver date, category, held, allowed).

    ``part`` = (modulus, residues) reads only the people whose id modulo ``modulus``
    is one of ``residues`` (the concurrent path splits the people between its two
    connections this way; a person's devices are all in one part, so the parts'
    rows together are exactly the whole's).
    """
    entitlement = Entitlement._meta.db_table
    exception = EntitlementException._meta.db_table
    approved = EntitlementException.Status.APPROVED.value
    filters = ""
    if part is not None:
        modulus, residues = part
        among = _ids(residues)
        # On both sides of the join, so each part also hashes only its own people.
        filters = (
            f" AND MOD(d.assigned_to_id, {int(modulus)}) IN ({among})"
            f" AND MOD(p.id, {int(modulus)}) IN ({among})"
        )
    filters += _people_filter(unit_ids)
    # One pass: each device in use at the period's end is joined to its holder then
    # and the small entitlement table BEFORE grouping, so the one grouping by person
    # and category carries the holder's unit, leaver date and entitlement with it, and
    # HAVING keeps only people over their role's entitlement or leavers (about 8,000 of
    # 700,000 groups at 1,000,000 devices). Exceptions are looked up for those
    # survivors only.
    sql = f"""
        WITH {as_at.devices_as_at_ctes()},
        {as_at.people_as_at_ctes()},
        held AS (
            SELECT p.id AS person_id, p.business_unit_id, p.staff_number, p.leaver_date,
                   m.category AS category, COUNT(*) AS n,
                   COALESCE(MAX(e.quantity), 0) AS entitled
            FROM asat d
            JOIN people_at p ON p.id = d.assigned_to_id
            JOIN {as_at.MODEL} m ON m.id = d.device_model_id
            LEFT JOIN {entitlement} e
                   ON e.role_profile_id = p.role_profile_id AND e.category = m.category
            WHERE d.status IN ({_quoted(IN_USE)}){filters}
            GROUP BY p.id, p.business_unit_id, p.staff_number, p.leaver_date, m.category
            HAVING COUNT(*) > COALESCE(MAX(e.quantity), 0) OR p.leaver_date <= %(period_end)s
        ), extra AS (
            SELECT x.person_id, x.category, SUM(x.extra_quantity) AS extra
            FROM {exception} x
            WHERE x.status = '{approved}' AND x.approved_at < %(cut)s
              AND (x.valid_until IS NULL OR x.valid_until >= %(period_end)s)
            GROUP BY x.person_id, x.category
        )
        SELECT h.business_unit_id, h.staff_number, h.leaver_date, h.category, h.n,
               h.entitled + COALESCE(x.extra, 0) AS allowed
        FROM held h
        LEFT JOIN extra x ON x.person_id = h.person_id AND x.category = h.category
        WHERE h.n > h.entitled + COALESCE(x.extra, 0) OR h.leaver_date <= %(period_end)s
        ORDER BY h.staff_number, h.category
    """  # noqa: S608 - table names from model metadata, codes and ids inlined as such
    return [
        (unit_id, staff, _date(leaver), category, int(n), int(allowed))
        for unit_id, staff, leaver, category, n, allowed in _execute(sql, args["params"])
    ]


def _date(value):
    """A date column as a date (SQLite's cursor gives text)."""
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def _lost_in_period(unit_ids, args):
    """Devices recorded lost or stolen within the period (a device lost twice counts
    once), counted against the unit and category the device had at the period's end.
    The few lost devices are looked up by id, with their as-at unit and model from the
    changed devices (``as_at.prepare``) where they changed since."""
    unit = "CASE WHEN r.id IS NULL THEN d.business_unit_id ELSE r.business_unit_id END"
    model = "CASE WHEN r.id IS NULL THEN d.device_model_id ELSE r.device_model_id END"
    unit_filter = f" AND {unit} IN ({_ids(unit_ids)})" if unit_ids is not None else ""
    sql = f"""
        SELECT {unit}, m.category, COUNT(DISTINCT l.device_id)
        FROM {as_at.EVENT} l
        JOIN {as_at.DEVICE} d ON d.id = l.device_id
        LEFT JOIN {as_at.CHANGED_DEVICES} r ON r.id = d.id
        JOIN {as_at.MODEL} m ON m.id = {model}
        WHERE l.kind = %(lost)s AND l.occurred_at >= %(start)s AND l.occurred_at < %(cut)s
              AND (r.id IS NULL OR r.status <> ''){unit_filter}
        GROUP BY {unit}, m.category
    """  # noqa: S608 - table names from model metadata, ids inlined as integers
    params = {
        **args["params"],
        "lost": DeviceEvent.Kind.LOST.value,
        "start": connection.ops.adapt_datetimefield_value(args["start"]),
    }
    return [
        {"device__business_unit_id": u, "device__device_model__category": c, "n": int(n)}
        for u, c, n in _execute(sql, params)
    ]


def _open_exceptions(unit_ids, args):
    """Entitlement exceptions awaiting review at the period's end: requested before it
    and neither approved nor refused by then (a decision is read from the
    exception's approval time and its field history), against the person's unit
    then. Rows: (unit, staff number, category, extra quantity, requested at).

    ``devices.selectors.entitlement_exceptions_open_by_unit`` counts the same
    exceptions as they stand now; this reads them as they stood at the period's end,
    so a past month's report does not change when they are decided later."""
    exception = EntitlementException._meta.db_table
    history = EntitlementException.history.model._meta.db_table
    s = EntitlementException.Status
    sql = f"""
        WITH {as_at.people_as_at_ctes()}
        SELECT p.business_unit_id, p.staff_number, x.category, x.extra_quantity, x.requested_at
        FROM {exception} x
        JOIN people_at p ON p.id = x.person_id
        WHERE x.requested_at < %(cut)s
          AND NOT (x.status = '{s.APPROVED.value}' AND x.approved_at < %(cut)s)
          AND NOT EXISTS (
              SELECT 1 FROM {history} h
              WHERE h.id = x.id AND h.history_date < %(cut)s
                AND h.status IN ('{s.APPROVED.value}', '{s.REFUSED.value}'))
          {_people_filter(unit_ids)}
        ORDER BY p.staff_number, x.category, x.requested_at
    """  # noqa: S608 - table names from model metadata, codes and ids inlined as such
    return _execute(sql, args["params"])


def _refresh_due(unit_ids, args):
    """Devices due for refresh per (unit, year, category) for the period's financial
    year and the next, as at the period's end (``reports.selectors.refresh_due``)."""
    return refresh_due.refresh_due_as_at(
        unit_ids=unit_ids,
        period_end=args["period_end"],
        cut_params=args["params"],
    )


# --- the public selectors -----------------------------------------------------


def stewardship_figures(
    *,
    period_start: dt.date,
    period_end: dt.date,
    idle_days: int | None = None,
    root: BusinessUnit | None = None,
) -> dict[int, dict]:
    """Every section's figures for every unit (or every unit in ``root``'s subtree),
    each unit's figures including its sub-units, as at the period's end (the last
    moment of ``period_end`` in Europe/London). Keyed by unit id.

    Queries: units, device counts (category × status × idle), the entitlement table,
    people by unit and role, devices held by person (over entitlement and leavers),
    lost in the period, the refresh policies in force and the devices due, and the
    entitlement exceptions awaiting review: the same count for 4 units or 400, 100
    devices or 1,000,000.

    On PostgreSQL the sections are read on one connection, its scans in parallel
    workers. With ``REPORTS_CONCURRENT_FIGURES = True`` (off by default) and outside any
    transaction they are read on two connections at once from one exported snapshot
    (``reports.concurrent``): the same figures, but since the figures are read as at
    the period's end it is slower (each section scans the whole estate as then, which
    parallel workers share better than a split between two connections without them:
    measured at 1,000,000 devices, bench/RESULTS.md).
    """
    idle_days = default_idle_days() if idle_days is None else idle_days
    if connection.vendor != "postgresql":
        with transaction.atomic():
            units = _units(root)
            if not units:
                return {}
            sections = _read_sections(
                _section_args(units, root, period_start, period_end, idle_days), SECTIONS
            )
        return _roll_up(units, sections, period_end)
    if settings.REPORTS_CONCURRENT_FIGURES and concurrent.available():
        return _figures_concurrently(
            period_start=period_start, period_end=period_end, idle_days=idle_days, root=root
        )
    # PostgreSQL, one connection: a transaction (a savepoint inside a caller's) so the
    # work_mem/jit/planner settings and the temporary tables stay local to it.
    with transaction.atomic():
        _tune_for_aggregates()
        units = _units(root)
        if not units:
            return {}
        sections = _read_sections(
            _section_args(units, root, period_start, period_end, idle_days), SECTIONS
        )
        return _roll_up(units, sections, period_end)


def _tune_for_aggregates(*, parallel: bool = True) -> None:
    """PostgreSQL: give this transaction's grouped scans room to hash in memory
    (700,000 person × category groups spill to disk at the default 4 MB) and skip JIT
    compilation, which costs more than it saves on queries this short. Parallel costs
    lowered so the held-by-person query joins its 700,000 in-use devices to the
    562,500 people in parallel workers (the planner's default keeps it serial to
    avoid gathering that many rows; measured 25-45% faster in paired runs on the
    bench estate). One statement, scoped to the transaction (set_config(..., true)
    is SET LOCAL).

    ``parallel=False`` (the concurrent path): no parallel workers, because the two
    connections already keep both cores busy and workers would only contend with them.
    """
    no_workers = "" if parallel else ", set_config('max_parallel_workers_per_gather', '0', true)"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('work_mem', %s, true), set_config('jit', 'off', true),"
            " set_config('parallel_setup_cost', '0', true),"
            " set_config('parallel_tuple_cost', '0.0001', true)" + no_workers,
            [settings.REPORTS_WORK_MEM],
        )


# The sections in the order the sequential path reads them.
SECTIONS = ("device_counts", "entitled", "held_by_person", "lost", "refresh", "exceptions")

# The concurrent path's split of the work between its two connections (each without
# parallel workers: the two connections are the parallelism on a 2-core machine). Each
# connection first reads the devices and people changed since the period's end
# (as_at.prepare). At 1,000,000 devices, read serially as at a past month's end with 6%
# of the estate changed since (load 4.6), the held-by-person query took ~2.9 s, the
# refresh section ~2.3 s, device counts ~1.0 s, the rest ~0.3 s. The caller's
# connection reads the refresh section and a quarter of the people's holdings (person
# id modulo 4); the second connection the other three quarters and every other section.
HELD_SPLIT_MODULUS = 4
MAIN_HELD_RESIDUES = (0,)
OTHER_HELD_RESIDUES = (1, 2, 3)
MAIN_OTHER_SECTIONS = ("refresh",)
SECOND_SECTIONS = ("device_counts", "entitled", "lost", "exceptions")


def _figures_concurrently(*, period_start, period_end, idle_days, root) -> dict[int, dict]:
    """The sequential path's figures, read on two connections in one snapshot
    (reports.concurrent). What changed since the period's end is read once, on the
    caller's connection before the second starts (``as_at.prepare``), and handed to the
    second (``as_at.export``/``load``) rather than read twice."""
    shared: dict = {}

    def read_units():
        units = _units(root)
        if units:
            args = _section_args(units, root, period_start, period_end, idle_days)
            as_at.prepare(args["params"])
            shared["args"] = args
            shared["exported"] = as_at.export()
        return units

    def main(units):
        args = shared["args"]
        sections = _read_sections(args, MAIN_OTHER_SECTIONS, prepared=True)
        part = (HELD_SPLIT_MODULUS, MAIN_HELD_RESIDUES)
        sections["held_main"] = _held_by_person(args["unit_ids"], args, part)
        return sections

    def second(units):
        args = _section_args(units, root, period_start, period_end, idle_days)
        as_at.load(args["params"], shared["exported"])
        sections = _read_sections(args, SECOND_SECTIONS, prepared=True)
        part = (HELD_SPLIT_MODULUS, OTHER_HELD_RESIDUES)
        sections["held_other"] = _held_by_person(args["unit_ids"], args, part)
        return sections

    def roll_up(units, sections):
        # _roll_up puts the two parts' rows in order (staff number, category).
        sections["held_by_person"] = sections.pop("held_main") + sections.pop("held_other")
        return _roll_up(units, sections, period_end)

    return concurrent.figures(
        read_units=read_units,
        read_main=main,
        read_other=second,
        tune=lambda: _tune_for_aggregates(parallel=False),
        roll_up=roll_up,
    )


def _section_args(units, root, period_start, period_end, idle_days) -> dict:
    start, cut = period_bounds(period_start, period_end)
    return {
        "unit_ids": [u["id"] for u in units] if root is not None else None,
        "period_start": period_start,
        "period_end": period_end,
        "start": start,
        "cutoff": idle_cutoff(period_end, idle_days),
        "params": as_at.params(cut, period_end),
    }


def _read_sections(args: dict, names, *, prepared: bool = False) -> dict:
    """Run the named sections' queries on the current thread's connection (in its
    transaction); each result fully fetched (a list), so nothing is read after its
    transaction ends.

    First the devices and people changed since the period's end are read into
    temporary tables (``as_at.prepare``, unless ``prepared`` already), then the sections that look up a few rows
    (lost devices, open exceptions), then the scans of the whole estate under
    ``as_at.plan_for_scans``."""
    if not prepared:
        as_at.prepare(args["params"])
    unit_ids = args["unit_ids"]
    readers = {
        "device_counts": lambda: _device_counts(unit_ids, args),
        "entitled": lambda: _entitled_counts(unit_ids, args),
        "held_by_person": lambda: _held_by_person(unit_ids, args),
        "lost": lambda: _lost_in_period(unit_ids, args),
        "refresh": lambda: _refresh_due(unit_ids, args),
        "exceptions": lambda: _open_exceptions(unit_ids, args),
    }
    sections = {name: readers[name]() for name in names if name in LOOKUP_SECTIONS}
    as_at.plan_for_scans()
    sections.update({name: readers[name]() for name in names if name not in LOOKUP_SECTIONS})
    return sections


# Sections that look up a few rows by index (nested loops are right for them).
LOOKUP_SECTIONS = ("lost", "exceptions")


def stewardship_unit_figures(
    *, unit: BusinessUnit, period_start: dt.date, period_end: dt.date, idle_days: int
) -> dict:
    """One unit's figures (sub-units included): the same set-based queries, limited to its subtree."""
    return stewardship_figures(
        period_start=period_start, period_end=period_end, idle_days=idle_days, root=unit
    )[unit.pk]
