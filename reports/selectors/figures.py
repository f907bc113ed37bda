"""The stewardship figures of every unit.

Every section is computed for ALL units in one grouped query (never one query per
unit) and then rolled up each unit's subtree in Python through the materialised
``BusinessUnit.path``: a row counted against ``MET/FLP/CE/`` is added to
``MET/``, ``MET/FLP/`` and ``MET/FLP/CE/``. The number of queries does not grow
with the number of units or devices.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q

from accounts.models import BusinessUnit
from accounts.scoping import UnitScope
from core.financial_year import financial_year
from devices.models import Device, DeviceEvent, Entitlement, EntitlementException, Person
from refresh.selectors import refresh_due_by_unit
from reports import concurrent
from reports.selectors.labels import CATEGORIES, HEADLINE_LABELS, HELD_STATUSES, IN_USE, S
from reports.selectors.periods import default_idle_days, idle_cutoff, period_bounds

# --- roll-up ----------------------------------------------------------------


def _units(root: BusinessUnit | None) -> list[dict]:
    qs = BusinessUnit.objects.order_by("path").values("id", "code", "name", "path", "active")
    if root is not None:
        qs = qs.within(UnitScope.subtree(root))
    return list(qs)


def _ancestor_map(units: list[dict]) -> dict[int, list[int]]:
    """Each unit id -> itself and every ancestor among ``units``, found from the path."""
    by_path = {u["path"]: u["id"] for u in units}
    result = {}
    for unit in units:
        parts = unit["path"].split("/")[:-1]
        prefixes = ("/".join(parts[: i + 1]) + "/" for i in range(len(parts)))
        result[unit["id"]] = [by_path[p] for p in prefixes if p in by_path]
    return result


def _empty_figures(unit: dict) -> dict:
    return {
        "unit": {k: unit[k] for k in ("id", "code", "name", "path")},
        "by_category_status": {c: dict.fromkeys(HELD_STATUSES, 0) for c in CATEGORIES},
        # Devices the unit holds itself (not its sub-units'), and its direct sub-units.
        "direct": {c: dict.fromkeys(HELD_STATUSES, 0) for c in CATEGORIES},
        "sub_units": [],
        "stock": dict.fromkeys(CATEGORIES, 0),
        "idle": {c: {"idle": 0, "never_seen": 0} for c in CATEGORIES},
        "entitlement": {c: {"in_use": 0, "entitled": 0, "excess": 0} for c in CATEGORIES},
        "people_over": [],
        "leavers": [],
        "lost": dict.fromkeys(CATEGORIES, 0),
        "refresh": {"years": [], "by_year": {}},
        "headline": dict.fromkeys(HEADLINE_LABELS, 0),
    }


# --- the sections -----------------------------------------------------------


def _device_counts(unit_ids, cutoff):
    """Sections 'devices by category and status', 'stock' and 'idle' in one grouped scan.

    The devices are grouped by unit, model and status on the device table alone
    (integer keys, no join per device), and only those few hundred groups are joined
    to the model table and regrouped by category: ~30% less work at 1,000,000 devices
    than joining every device to its model before one grouping (0.25 s against 0.35 s
    serial on the bench estate). Rows: dicts with business_unit_id,
    device_model__category, status, n, idle, never_seen.
    """
    device = Device._meta.db_table
    model = Device._meta.get_field("device_model").related_model._meta.db_table
    params: list = [connection.ops.adapt_datetimefield_value(cutoff), *HELD_STATUSES]
    unit_filter = ""
    if unit_ids is not None:
        unit_filter = f" AND d.business_unit_id IN ({', '.join(['%s'] * len(unit_ids))})"
        params.extend(unit_ids)
    sql = f"""
        SELECT g.business_unit_id, m.category, g.status,
               SUM(g.n), SUM(g.idle), SUM(g.never_seen)
        FROM (
            SELECT d.business_unit_id, d.device_model_id, d.status, COUNT(*) AS n,
                   SUM(CASE WHEN d.last_seen < %s THEN 1 ELSE 0 END) AS idle,
                   SUM(CASE WHEN d.last_seen IS NULL THEN 1 ELSE 0 END) AS never_seen
            FROM {device} d
            WHERE d.status IN ({", ".join(["%s"] * len(HELD_STATUSES))}){unit_filter}
            GROUP BY d.business_unit_id, d.device_model_id, d.status
        ) g
        JOIN {model} m ON m.id = g.device_model_id
        GROUP BY g.business_unit_id, m.category, g.status
    """  # noqa: S608 - table names come from model metadata, values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [
            {
                "business_unit_id": unit_id,
                "device_model__category": category,
                "status": status,
                "n": int(n),
                "idle": int(idle),
                "never_seen": int(never_seen),
            }
            for unit_id, category, status, n, idle, never_seen in cursor.fetchall()
        ]


def _entitled_counts(unit_ids, period_end):
    """What each unit's current people are entitled to, by category (leavers excluded):
    people counted by unit and role (no join), times the small entitlement table."""
    people = Person.objects.filter(Q(leaver_date__isnull=True) | Q(leaver_date__gt=period_end))
    if unit_ids is not None:
        people = people.filter(business_unit_id__in=unit_ids)
    per_role: dict[int, list[tuple[str, int]]] = {}
    for role_id, category, quantity in Entitlement.objects.values_list(
        "role_profile_id", "category", "quantity"
    ):
        per_role.setdefault(role_id, []).append((category, quantity))
    for row in (
        people.values("business_unit_id", "role_profile_id").annotate(n=Count("id")).order_by()
    ):
        for category, quantity in per_role.get(row["role_profile_id"], ()):
            yield row["business_unit_id"], category, quantity * row["n"]


def _held_by_person(unit_ids, period_end, part: tuple[int, tuple[int, ...]] | None = None):
    """People over entitlement and leavers still holding devices, from one pass over the
    devices in use grouped by person and category.

    A person is over when they hold more of a category than their role (plus any
    approved, still-valid exception) allows; a leaver is anyone whose leaver date is
    on or before the period end. Rows: (unit, staff number, leaver date, category,
    held, allowed).

    ``part`` = (modulus, residues) reads only the people whose id modulo ``modulus``
    is one of ``residues`` (the concurrent path splits the people between its two
    connections this way; a person's devices are all in one part, so the parts'
    rows together are exactly the whole's).
    """
    device = Device._meta.db_table
    model = Device._meta.get_field("device_model").related_model._meta.db_table
    person = Person._meta.db_table
    entitlement = Entitlement._meta.db_table
    exception = EntitlementException._meta.db_table
    # Only approved exceptions widen an allowance; requested or refused ones do not.
    approved = EntitlementException.Status.APPROVED.value
    params: list = [*IN_USE]
    unit_filter = ""
    if part is not None:
        modulus, residues = part
        # On both sides of the join, so each part also hashes only its own people.
        among = ", ".join(["%s"] * len(residues))
        unit_filter = f" AND MOD(d.assigned_to_id, %s) IN ({among}) AND MOD(p.id, %s) IN ({among})"
        params.extend([modulus, *residues, modulus, *residues])
    if unit_ids is not None:
        unit_filter += f" AND p.business_unit_id IN ({', '.join(['%s'] * len(unit_ids))})"
        params.extend(unit_ids)
    params.extend([period_end, period_end, period_end])
    # One pass: each in-use device is joined to its holder (a hash of the people's
    # narrow columns) and the small entitlement table BEFORE grouping, so the one
    # grouping by person and category carries the holder's unit, leaver date and
    # entitlement with it and HAVING keeps only people over their role's entitlement
    # or leavers (about 8,000 of 700,000 groups at 1,000,000 devices). Exceptions are
    # looked up for those survivors only. The earlier form grouped first and then
    # joined all 700,000 groups to the 562,500 people, the entitlement and exception
    # tables: measured 1.0-1.7 s against 0.8-1.2 s for this one on the bench estate.
    sql = f"""
        WITH held AS (
            SELECT p.id AS person_id, p.business_unit_id, p.staff_number, p.leaver_date,
                   m.category AS category, COUNT(*) AS n,
                   COALESCE(MAX(e.quantity), 0) AS entitled
            FROM {device} d
            JOIN {person} p ON p.id = d.assigned_to_id
            JOIN {model} m ON m.id = d.device_model_id
            LEFT JOIN {entitlement} e
                   ON e.role_profile_id = p.role_profile_id AND e.category = m.category
            WHERE d.status IN (%s, %s){unit_filter}
            GROUP BY p.id, p.business_unit_id, p.staff_number, p.leaver_date, m.category
            HAVING COUNT(*) > COALESCE(MAX(e.quantity), 0) OR p.leaver_date <= %s
        ), extra AS (
            SELECT x.person_id, x.category, SUM(x.extra_quantity) AS extra
            FROM {exception} x
            WHERE x.status = '{approved}' AND (x.valid_until IS NULL OR x.valid_until >= %s)
            GROUP BY x.person_id, x.category
        )
        SELECT h.business_unit_id, h.staff_number, h.leaver_date, h.category, h.n,
               h.entitled + COALESCE(x.extra, 0) AS allowed
        FROM held h
        LEFT JOIN extra x ON x.person_id = h.person_id AND x.category = h.category
        WHERE h.n > h.entitled + COALESCE(x.extra, 0) OR h.leaver_date <= %s
        ORDER BY h.staff_number, h.category
    """  # noqa: S608 - table names come from model metadata, values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _lost_in_period(unit_ids, period_start, period_end):
    """Devices recorded lost or stolen within the period (a device lost twice counts once)."""
    start, end = period_bounds(period_start, period_end)
    qs = DeviceEvent.objects.filter(
        kind=DeviceEvent.Kind.LOST, occurred_at__gte=start, occurred_at__lt=end
    )
    if unit_ids is not None:
        qs = qs.filter(device__business_unit_id__in=unit_ids)
    return (
        qs.values("device__business_unit_id", "device__device_model__category")
        .annotate(n=Count("device_id", distinct=True))
        .order_by()
    )


def _refresh_due(period_end):
    """Refresh's devices due per (unit, year, category) for the period's financial
    year and the next."""
    this_year = financial_year(period_end)
    years = [this_year, this_year.next()]
    return refresh_due_by_unit(financial_years=years), years


# --- the public selectors -----------------------------------------------------


def stewardship_figures(
    *,
    period_start: dt.date,
    period_end: dt.date,
    idle_days: int | None = None,
    root: BusinessUnit | None = None,
) -> dict[int, dict]:
    """Every section's figures for every unit (or every unit in ``root``'s subtree),
    each unit's figures including its sub-units. Keyed by unit id.

    Queries: units, device counts (category × status × idle), current people by unit
    and role, the entitlement table, devices held by person (over entitlement and
    leavers), lost in the period, plus the refresh selector's own: the same count for 4 units or 400, 100 devices or 1,000,000.

    On PostgreSQL, outside any transaction, the sections are read on two connections
    at once from one exported snapshot (``reports.concurrent``): the same figures,
    the work shared between two cores (two more queries: the snapshot export and the
    held-by-person query in two parts).
    """
    idle_days = default_idle_days() if idle_days is None else idle_days
    if connection.vendor != "postgresql":
        units = _units(root)
        if not units:
            return {}
        sections = _read_sections(
            _section_args(units, root, period_start, period_end, idle_days), SECTIONS
        )
        return _roll_up(units, sections, period_end)
    if concurrent.available():
        return _figures_concurrently(
            period_start=period_start, period_end=period_end, idle_days=idle_days, root=root
        )
    # PostgreSQL in a caller's transaction (tests, a request): one connection, and a
    # savepoint so the work_mem/jit settings stay local to it.
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
            [getattr(settings, "REPORTS_WORK_MEM", "128MB")],
        )


# The sections in the order the sequential path reads them.
SECTIONS = ("device_counts", "entitled", "held_by_person", "lost", "refresh")

# The concurrent path's split of the work between its two connections (each without
# parallel workers: the two connections are the parallelism on a 2-core machine). At
# 1,000,000 devices, read serially, the held-by-person query takes ~1.1 s, device
# counts ~0.3 s, the refresh selector ~0.2 s and the rest ~0.1 s. The caller's
# connection reads three quarters of the people's holdings (person id modulo 4) and
# the refresh section; the second connection the last quarter and every other
# section. Measured against halves and against one parallel held-by-person query
# beside the other sections, interleaved on the bench estate: this split was fastest.
HELD_SPLIT_MODULUS = 4
MAIN_HELD_RESIDUES = (0, 1, 2)
OTHER_HELD_RESIDUES = (3,)
MAIN_OTHER_SECTIONS = ("refresh",)
SECOND_SECTIONS = ("device_counts", "entitled", "lost")


def _figures_concurrently(*, period_start, period_end, idle_days, root) -> dict[int, dict]:
    """The sequential path's figures, read on two connections in one snapshot
    (reports.concurrent)."""

    def main(units):
        args = _section_args(units, root, period_start, period_end, idle_days)
        sections = _read_sections(args, MAIN_OTHER_SECTIONS)
        part = (HELD_SPLIT_MODULUS, MAIN_HELD_RESIDUES)
        sections["held_main"] = _held_by_person(args["unit_ids"], period_end, part)
        return sections

    def second(units):
        args = _section_args(units, root, period_start, period_end, idle_days)
        sections = _read_sections(args, SECOND_SECTIONS)
        part = (HELD_SPLIT_MODULUS, OTHER_HELD_RESIDUES)
        sections["held_other"] = _held_by_person(args["unit_ids"], period_end, part)
        return sections

    def roll_up(units, sections):
        # _roll_up puts the two parts' rows in order (staff number, category).
        sections["held_by_person"] = sections.pop("held_main") + sections.pop("held_other")
        return _roll_up(units, sections, period_end)

    return concurrent.figures(
        read_units=lambda: _units(root),
        read_main=main,
        read_other=second,
        tune=lambda: _tune_for_aggregates(parallel=False),
        roll_up=roll_up,
    )


def _section_args(units, root, period_start, period_end, idle_days) -> dict:
    return {
        "unit_ids": [u["id"] for u in units] if root is not None else None,
        "period_start": period_start,
        "period_end": period_end,
        "cutoff": idle_cutoff(period_end, idle_days),
    }


def _read_sections(args: dict, names) -> dict:
    """Run the named sections' queries on the current thread's connection; each
    result fully fetched (a list), so nothing is read after its transaction ends."""
    unit_ids, period_end = args["unit_ids"], args["period_end"]
    readers = {
        "device_counts": lambda: list(_device_counts(unit_ids, args["cutoff"])),
        "entitled": lambda: list(_entitled_counts(unit_ids, period_end)),
        "held_by_person": lambda: _held_by_person(unit_ids, period_end),
        "lost": lambda: list(_lost_in_period(unit_ids, args["period_start"], period_end)),
        "refresh": lambda: _refresh_due(period_end),
    }
    return {name: readers[name]() for name in names}


def _roll_up(units: list[dict], sections: dict, period_end: dt.date) -> dict[int, dict]:
    """Each section's rows added to the unit they belong to and every ancestor of it."""
    known = {u["id"] for u in units}
    ancestors = _ancestor_map(units)
    figures = {u["id"]: _empty_figures(u) for u in units}
    code_of = {u["id"]: u["code"] for u in units}

    def up(unit_id):
        return (figures[a] for a in ancestors.get(unit_id, ()))

    for row in sections["device_counts"]:
        if row["business_unit_id"] not in known:
            continue
        category, status, n = row["device_model__category"], row["status"], row["n"]
        figures[row["business_unit_id"]]["direct"][category][status] += n
        for fig in up(row["business_unit_id"]):
            fig["by_category_status"][category][status] += n
            if status == S.IN_STOCK:
                fig["stock"][category] += n
            if status == S.DEPLOYED:
                fig["idle"][category]["idle"] += row["idle"]
                fig["idle"][category]["never_seen"] += row["never_seen"]
            if status in IN_USE:
                fig["entitlement"][category]["in_use"] += n

    for unit_id, category, quantity in sections["entitled"]:
        if unit_id not in known or category not in CATEGORIES:
            continue
        for fig in up(unit_id):
            fig["entitlement"][category]["entitled"] += quantity

    leavers: dict[str, dict] = {}
    # Sorted here by (staff number, category), not only by the query's ORDER BY, so the
    # lists come out in the same order whether the rows came from one query or from
    # the concurrent path's two parts, whatever the database's collation.
    held_rows = sorted(sections["held_by_person"], key=lambda row: (row[1], row[3]))
    for unit_id, staff_number, leaver_date, category, held, allowed in held_rows:
        if unit_id not in known:
            continue
        if held > allowed:
            entry = {
                "staff_number": staff_number,
                "unit": code_of[unit_id],
                "category": category,
                "held": int(held),
                "allowed": int(allowed),
            }
            for fig in up(unit_id):
                fig["people_over"].append(entry)
        if leaver_date is not None and leaver_date <= period_end:
            if staff_number not in leavers:
                leavers[staff_number] = {
                    "staff_number": staff_number,
                    "unit": code_of[unit_id],
                    "leaver_date": leaver_date.isoformat(),
                    "devices": 0,
                }
                for fig in up(unit_id):
                    fig["leavers"].append(leavers[staff_number])
            # One dict shared by every ancestor's list: the devices are counted once for all.
            leavers[staff_number]["devices"] += int(held)

    for row in sections["lost"]:
        if row["device__business_unit_id"] not in known:
            continue
        for fig in up(row["device__business_unit_id"]):
            fig["lost"][row["device__device_model__category"]] += row["n"]

    due, years = sections["refresh"]
    labels = [fy.label for fy in years]
    for fig in figures.values():
        fig["refresh"] = {
            "years": labels,
            "by_year": {label: dict.fromkeys(CATEGORIES, 0) for label in labels},
        }
    for (unit_id, label, category), n in due.items():
        if unit_id not in known or label not in labels or category not in CATEGORIES:
            continue
        for fig in up(unit_id):
            fig["refresh"]["by_year"][label][category] += int(n)

    for fig in figures.values():
        _finish(fig)
    # Each unit's direct sub-units (in path order), for the per-sub-unit summary of a
    # report above the device-rows cap. The child's own figures dict is shared, not copied.
    for unit in units:
        chain = ancestors[unit["id"]]
        if len(chain) >= 2:
            child = figures[unit["id"]]
            figures[chain[-2]]["sub_units"].append(
                {
                    **child["unit"],
                    "devices_held": child["headline"]["devices_held"],
                    "by_category_status": child["by_category_status"],
                }
            )
    return figures


def _finish(fig: dict) -> None:
    """Derived figures: excess over entitlement and the headline numbers."""
    for values in fig["entitlement"].values():
        values["excess"] = max(0, values["in_use"] - values["entitled"])
    by_status = fig["by_category_status"]
    refresh = fig["refresh"]
    by_year = refresh["by_year"]
    years = refresh["years"]
    fig["headline"] = {
        "devices_held": sum(sum(s.values()) for s in by_status.values()),
        "in_use": sum(v["in_use"] for v in fig["entitlement"].values()),
        "in_stock": sum(fig["stock"].values()),
        "idle": sum(v["idle"] for v in fig["idle"].values()),
        "never_seen": sum(v["never_seen"] for v in fig["idle"].values()),
        "people_over_entitlement": len({p["staff_number"] for p in fig["people_over"]}),
        "devices_over_entitlement": sum(p["held"] - p["allowed"] for p in fig["people_over"]),
        "leavers_holding": len(fig["leavers"]),
        "leaver_devices": sum(p["devices"] for p in fig["leavers"]),
        "lost_in_period": sum(fig["lost"].values()),
        "refresh_due_this_year": sum(by_year[years[0]].values()),
        "refresh_due_next_year": sum(by_year[years[1]].values()),
    }


def stewardship_unit_figures(
    *, unit: BusinessUnit, period_start: dt.date, period_end: dt.date, idle_days: int
) -> dict:
    """One unit's figures (sub-units included): the same set-based queries, limited to its subtree."""
    return stewardship_figures(
        period_start=period_start, period_end=period_end, idle_days=idle_days, root=unit
    )[unit.pk]
