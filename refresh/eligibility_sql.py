"""The one SQL statement that recomputes eligibility for the whole estate.

Kept apart from the services so the benchmark can time the very statement the
service runs. It is plain SQL that runs on PostgreSQL and SQLite; only the
date arithmetic differs (``DIALECT``). Policies in force are passed as a
VALUES list (five rows at most), so the statement is set-based over the estate:
repair counts come from one grouped subquery, OS end of support from an EXISTS
over the small OS table, and every row is upserted in one INSERT ... SELECT.
"""

from __future__ import annotations

import json

# Statuses in which a device is eligible: in use or in stock. Everything else
# (returned, awaiting sanitisation, sanitised, disposed, lost or stolen) is on
# its way out of the estate and is never refreshed.
ELIGIBLE_STATUSES = ("deployed", "in_repair", "in_stock")

DIALECT = {
    "postgresql": {
        # The devices a partial recompute covers: one array parameter, however many.
        "ids": "SELECT unnest(CAST(%(ids)s AS bigint[]))",
        "due": "(d.purchase_date + make_interval(months => pol.lifecycle))::date",
        "age_days": "(CAST(%(today)s AS date) - d.purchase_date)",
        "idle_before": "(CAST(%(now)s AS timestamptz) - make_interval(days => pol.idle_days))",
        "true": "TRUE",
        # The UK financial year starts on 1 April: its start year is the year of
        # the date three months earlier.
        "due_fy": "CAST(EXTRACT(YEAR FROM due_date - interval '3 months') AS integer)",
    },
    "sqlite": {
        # The devices a partial recompute covers: one JSON array parameter (SQLite
        # limits how many parameters a statement may have; one is always enough).
        "ids": "SELECT value FROM json_each(%(ids)s)",
        # SQLite's '+N months' overflows (31 Jan + 1 month = 3 Mar); clamp to the
        # last day of the due month so both databases agree (PostgreSQL clamps).
        "due": (
            "min(date(d.purchase_date, '+' || pol.lifecycle || ' months'), "
            "date(d.purchase_date, 'start of month', '+' || (pol.lifecycle + 1) || ' months', "
            "'-1 day'))"
        ),
        "age_days": "CAST(julianday(%(today)s) - julianday(d.purchase_date) AS INTEGER)",
        "idle_before": "datetime(%(now)s, '-' || pol.idle_days || ' days')",
        "true": "1",
        "due_fy": "CAST(strftime('%%Y', date(due_date, '-3 months')) AS INTEGER)",
    },
}

COLUMNS = (
    "device_id, business_unit_id, category, policy_id, purchase_date, due_date, is_due, "
    "reason_age, reason_repairs, reason_os_end_of_support, reason_model_end_of_support, "
    "reason_out_of_warranty, reclaim, repair_count, priority, computed_at, forced, in_use, due_financial_year"
)


def ids_param(vendor: str, device_ids: list[int]):
    """The ``ids`` parameter of a partial recompute, as its dialect reads it."""
    if vendor == "postgresql":
        return list(device_ids)
    return json.dumps(list(device_ids))


def eligibility_count_sql(*, vendor: str) -> str:
    """How many eligibility rows the devices in the ``ids`` parameter have."""
    return (
        "SELECT COUNT(*) FROM refresh_deviceeligibility "  # noqa: S608 - constant fragments
        f"WHERE device_id IN ({DIALECT[vendor]['ids']})"
    )


def eligibility_upsert_sql(*, vendor: str, policy_count: int, partial: bool = False) -> str:
    """The INSERT ... SELECT ... ON CONFLICT DO UPDATE, with named parameters:
    today, now, computed_at, and pc<i>, pid<i>, pl<i>, pr<i>, pi<i>, po<i> per policy.

    ``partial``: only the devices in the ``ids`` parameter (``ids_param``), as after an
    import or bulk upsert that changed a few devices: the repair counts and the
    devices read are those devices' only, through their primary keys, so the cost
    follows the number of devices changed, not the estate's size."""
    d = DIALECT[vendor]
    only_devices = f" AND d.id IN ({d['ids']})" if partial else ""
    only_repairs = f" AND e.device_id IN ({d['ids']})" if partial else ""
    values = ", ".join(
        f"(CAST(%(pc{i})s AS varchar(16)), CAST(%(pid{i})s AS integer), "
        f"CAST(%(pl{i})s AS integer), CAST(%(pr{i})s AS integer), "
        f"CAST(%(pi{i})s AS integer), CAST(%(po{i})s AS integer))"
        for i in range(policy_count)
    )
    columns = [c.strip() for c in COLUMNS.split(",")]
    compared = [c for c in columns if c not in ("device_id", "computed_at")]
    update = ", ".join(f"{c} = excluded.{c}" for c in columns[1:])
    # Rewrite only rows whose result changed: from one night to the next most
    # devices' eligibility is the same, and an unchanged row costs an index probe
    # instead of a new tuple and three index entries. computed_at is therefore
    # "when this row last changed"; the run's time is on EligibilityRun.
    changed = " OR ".join(
        f"refresh_deviceeligibility.{c} IS DISTINCT FROM excluded.{c}" for c in compared
    )
    statuses = ", ".join(f"'{s}'" for s in ELIGIBLE_STATUSES)
    # Only constant fragments are interpolated; every value is a bound parameter.
    return f"""
WITH pol (category, policy_id, lifecycle, repair_threshold, idle_days, os_forces) AS (
    VALUES {values}
),
rep AS (
    SELECT e.device_id, COUNT(*) AS n
    FROM devices_deviceevent e
    WHERE e.kind = 'repaired'{only_repairs}
    GROUP BY e.device_id
),
base AS (
    SELECT
        d.id AS device_id,
        d.business_unit_id,
        dm.category,
        pol.policy_id,
        pol.repair_threshold,
        pol.os_forces,
        d.purchase_date,
        {d["due"]} AS due_date,
        {d["age_days"]} AS age_days,
        COALESCE(rep.n, 0) AS repair_count,
        CASE WHEN d.warranty_expires IS NOT NULL AND d.warranty_expires < %(today)s
             THEN 1 ELSE 0 END AS oow,
        CASE WHEN dm.end_of_support IS NOT NULL AND dm.end_of_support <= %(today)s
             THEN 1 ELSE 0 END AS model_eos,
        CASE WHEN d.os_version <> '' AND EXISTS (
                SELECT 1 FROM refresh_osendofsupport o
                WHERE lower(d.os_version) LIKE lower(o.os_prefix) || '%%'
                  AND o.end_of_support <= %(today)s)
             THEN 1 ELSE 0 END AS os_eos,
        CASE WHEN d.status = 'deployed' AND d.last_seen IS NOT NULL
                  AND d.last_seen < {d["idle_before"]}
             THEN 1 ELSE 0 END AS idle,
        CASE WHEN d.status IN ('deployed', 'in_repair') THEN 1 ELSE 0 END AS in_use
    FROM devices_device d
    JOIN devices_devicemodel dm ON dm.id = d.device_model_id
    JOIN pol ON pol.category = dm.category
    LEFT JOIN rep ON rep.device_id = d.id
    WHERE d.status IN ({statuses}){only_devices}
),
flags AS (
    SELECT base.*,
        CASE WHEN due_date IS NOT NULL AND due_date <= %(today)s THEN 1 ELSE 0 END AS by_age,
        CASE WHEN repair_threshold > 0 AND repair_count >= repair_threshold
             THEN 1 ELSE 0 END AS by_repairs
    FROM base
)
INSERT INTO refresh_deviceeligibility ({COLUMNS})
SELECT
    device_id, business_unit_id, category, policy_id, purchase_date, due_date,
    (idle = 0 AND (by_age = 1 OR by_repairs = 1 OR model_eos = 1
                   OR (os_eos = 1 AND os_forces = 1))),
    by_age = 1, by_repairs = 1, os_eos = 1, model_eos = 1, oow = 1, idle = 1,
    repair_count,
    CASE WHEN idle = 1 THEN 0 ELSE
        COALESCE(age_days, 0) * 12 / 365 + 12 * repair_count
        + CASE WHEN os_eos = 1 OR model_eos = 1 THEN 24 ELSE 0 END
        + CASE WHEN oow = 1 THEN 6 ELSE 0 END
    END,
    %(computed_at)s,
    (idle = 0 AND (by_repairs = 1 OR model_eos = 1 OR (os_eos = 1 AND os_forces = 1))),
    in_use = 1,
    {d["due_fy"]}
FROM flags
WHERE {d["true"]}
ON CONFLICT (device_id) DO UPDATE SET {update}
WHERE {changed}
"""  # noqa: S608


def eligibility_stale_delete_sql(*, vendor: str = "", partial: bool = False) -> str:
    """Rows of devices that left the eligible statuses (returned, disposed...);
    ``partial``: among the devices in the ``ids`` parameter only."""
    statuses = ", ".join(f"'{s}'" for s in ELIGIBLE_STATUSES)
    only = f"device_id IN ({DIALECT[vendor]['ids']}) AND " if partial else ""
    return f"""
DELETE FROM refresh_deviceeligibility
WHERE {only}NOT EXISTS (
    SELECT 1 FROM devices_device d
    WHERE d.id = refresh_deviceeligibility.device_id AND d.status IN ({statuses})
)
"""  # noqa: S608
