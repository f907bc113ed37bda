"""Devices due for refresh as at a period's end, for the stewardship report.

Refresh's eligibility table describes the estate as it is now and is rewritten every
night, so a past month's report cannot read it and stay the same. The report applies
refresh's rule (``refresh.selectors.due``, which the nightly statement applies in
SQL) to the estate as it stood at the period's end (``reports.selectors.as_at``): a
device in use or in stock is due when its purchase date plus the lifecycle of the
refresh policy in force on the period's last day falls in a year, and due in the
period's own year when overdue or forced (repairs recorded before the period's end
reaching the policy's threshold, its model or operating system out of support by
then); a deployed device unseen for the policy's idle days is reclaimed, not
refreshed.
"""

from __future__ import annotations

import datetime as dt
import functools

from django.db import connection

from core.financial_year import FinancialYear, financial_year
from devices.models import DeviceEvent, DeviceModel
from refresh.models import OsEndOfSupport
from refresh.selectors import policies_in_force
from refresh.selectors.due import (
    ELIGIBLE_STATUSES,
    due_financial_year,
    forced,
    os_out_of_support,
    refresh_year,
)
from reports.selectors import as_at


def _year_month() -> str:
    if connection.vendor == "postgresql":
        return (
            "CAST(EXTRACT(YEAR FROM d.purchase_date) AS integer) * 100"
            " + CAST(EXTRACT(MONTH FROM d.purchase_date) AS integer)"
        )
    return "CAST(strftime('%%Y%%m', d.purchase_date) AS INTEGER)"


def refresh_due_as_at(
    *, unit_ids, period_end: dt.date, cut_params: dict
) -> tuple[dict[tuple[int, str, str], int], list[FinancialYear]]:
    """((unit id, FY label, category) -> devices due, [the period's FY, the next]) for
    the devices as at the period's end (``cut_params``: ``as_at.params``, after
    ``as_at.prepare``). Four queries: the policies in force, one grouped scan, the
    device models and the OS end-of-support dates (both small)."""
    this_year = financial_year(period_end)
    years = [this_year, this_year.next()]
    policies = policies_in_force(on_date=period_end)
    if not policies:
        return {}, years
    cut = cut_params["cut"]
    cut_moment = dt.datetime.fromisoformat(cut) if isinstance(cut, str) else cut
    if cut_moment.tzinfo is None:
        cut_moment = cut_moment.replace(tzinfo=dt.UTC)
    params = dict(cut_params)
    policy_rows = []
    for i, (category, policy) in enumerate(sorted(policies.items())):
        name = f"idle_{i}"
        params[name] = connection.ops.adapt_datetimefield_value(
            cut_moment - dt.timedelta(days=policy.idle_days)
        )
        code = "'" + category.replace("'", "''") + "'"
        policy_rows.append(
            f"SELECT {code} AS category, %({name})s AS idle_before,"
            f" {int(policy.repair_threshold)} AS repair_threshold"
        )
    statuses = ", ".join(f"'{s}'" for s in ELIGIBLE_STATUSES)
    unit_filter = (
        f" AND d.business_unit_id IN ({', '.join(str(int(u)) for u in unit_ids)})"
        if unit_ids is not None
        else ""
    )
    # Grouped by unit, model, purchase month and OS version with the two per-device
    # tests that need the device (idle, repairs); the model's and the OS's end of
    # support are then looked up once per group in Python, not once per device. Each
    # half of the devices as at the period's end is grouped apart (as_at.grouped_as_at),
    # so the CTEs both halves read are NOT MATERIALIZED.
    reclaim = (
        "CASE WHEN d.status = 'deployed' AND d.last_seen IS NOT NULL"
        " AND d.last_seen < mp.idle_before THEN 1 ELSE 0 END"
    )
    by_repairs = (
        "CASE WHEN mp.repair_threshold > 0 AND COALESCE(rep.n, 0) >= mp.repair_threshold"
        " THEN 1 ELSE 0 END"
    )
    branch = f"""
            SELECT d.business_unit_id, d.device_model_id, {_year_month()} AS ym, d.os_version,
                   {reclaim} AS reclaim, {by_repairs} AS by_repairs, COUNT(*) AS n
            FROM {{devices}} d
            JOIN mp ON mp.id = d.device_model_id
            LEFT JOIN rep ON rep.device_id = d.id
            WHERE {{only}} AND d.status IN ({statuses}){unit_filter}
            GROUP BY d.business_unit_id, d.device_model_id, {_year_month()}, d.os_version,
                     {reclaim}, {by_repairs}"""  # noqa: S608 - constant fragments, ids inlined as integers
    sql = f"""
        WITH pol AS NOT MATERIALIZED ({" UNION ALL ".join(policy_rows)}),
        -- Each model with its category's policy: one small table to join per device.
        mp AS NOT MATERIALIZED (
            SELECT m.id, pol.idle_before, pol.repair_threshold
            FROM {as_at.MODEL} m JOIN pol ON pol.category = m.category
        ),
        rep AS NOT MATERIALIZED (
            SELECT r.device_id, COUNT(*) AS n FROM {as_at.EVENT} r
            WHERE r.kind = '{DeviceEvent.Kind.REPAIRED.value}' AND r.occurred_at < %(cut)s
            GROUP BY r.device_id
        )
        SELECT business_unit_id, device_model_id, ym, os_version, reclaim, by_repairs, SUM(n)
        FROM ({as_at.grouped_as_at(branch)}
        ) g
        GROUP BY business_unit_id, device_model_id, ym, os_version, reclaim, by_repairs
    """  # noqa: S608 - table names from model metadata; codes and numbers inlined as such
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    models = {
        pk: (category, end_of_support)
        for pk, category, end_of_support in DeviceModel.objects.values_list(
            "pk", "category", "end_of_support"
        )
    }
    os_ends = list(OsEndOfSupport.objects.values_list("os_prefix", "end_of_support"))

    @functools.cache
    def os_ended(version: str) -> bool:
        return os_out_of_support(version, os_ends, period_end)

    labels = {fy.start_year: fy.label for fy in years}
    due: dict[tuple[int, str, str], int] = {}
    for unit_id, model_id, year_month, os_version, reclaim, by_repairs, n in rows:
        category, model_end = models[model_id]
        policy = policies[category]
        year = refresh_year(
            current_start_year=this_year.start_year,
            due_fy=(
                None
                if year_month is None
                else due_financial_year(
                    int(year_month) // 100, int(year_month) % 100, policy.lifecycle_months
                )
            ),
            is_forced=forced(
                repairs_reached=bool(by_repairs),
                model_end_of_support=model_end,
                os_out_of_support=os_ended(os_version),
                os_end_of_support_forces_refresh=policy.os_end_of_support_forces_refresh,
                on_date=period_end,
            ),
            reclaim=bool(reclaim),
        )
        if year in labels:
            key = (unit_id, labels[year], category)
            due[key] = due.get(key, 0) + int(n)
    return due, years
