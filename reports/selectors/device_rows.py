"""The device-level rows of a unit's stewardship report, and the rule for when they
cover the unit's whole subtree."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from django.conf import settings
from django.db import connection, transaction

from accounts.models import BusinessUnit
from accounts.scoping import UnitScope
from core.exports import neutralise
from core.financial_year import LONDON
from devices.models import SERIAL_NOT_RECORDED, Manufacturer
from reports.selectors import as_at
from reports.selectors.labels import CATEGORY_LABELS, HELD_STATUSES, IN_USE, STATUS_LABELS, S
from reports.selectors.periods import idle_cutoff, period_bounds

# Excel's sheet limit is 1,048,576 rows; the device sheet spends three on marking,
# period and header.
EXCEL_DEVICE_ROWS = 1_048_576 - 3


def max_device_rows() -> int:
    """The device-rows rule (setting REPORTS_MAX_DEVICE_ROWS, default 100,000).

    A unit's XLSX and CSV list every device in its subtree when the subtree holds at
    most this many; above it, only the devices the unit holds directly, with a
    per-sub-unit summary, because each sub-unit's own report lists its devices. A
    million-row sheet is unusable to a reader and would write each device once per
    ancestor (3.7 million rows at 1,000,000 devices). Never above Excel's limit.
    """
    return min(settings.REPORTS_MAX_DEVICE_ROWS, EXCEL_DEVICE_ROWS)


def lists_whole_subtree(figures: dict, cap: int | None = None) -> bool:
    """Whether the unit's device rows cover its whole subtree (the rule above; ``cap``
    overrides the setting, as the demo does). The rows are the held devices, so the
    count is the headline figure already computed."""
    return figures["headline"]["devices_held"] <= (max_device_rows() if cap is None else cap)


DEVICE_ROW_HEADER = [
    "Asset tag",
    "Serial number",
    "Manufacturer",
    "Model",
    "Category",
    "Status",
    "Business unit",
    "Assigned to (staff number)",
    "Holder's leaver date",
    "Location",
    "Purchase date",
    "Warranty expires",
    "Last seen",
    "OS version",
    "Idle (to reclaim)",
    "Held by a leaver",
]


# Columns of DEVICE_ROW_HEADER holding dates and date-times: the writers give them a
# date format (XLSX column formats), everything else is text.
DEVICE_ROW_DATE_COLUMNS = (8, 10, 11)
DEVICE_ROW_DATETIME_COLUMNS = (12,)


def stewardship_device_rows(
    *,
    unit: BusinessUnit,
    period_end: dt.date,
    idle_days: int,
    direct_only: bool = False,
    chunk_size: int = 5000,
) -> Iterator[tuple]:
    """One row per device held in the unit's subtree (``direct_only``: held by the unit
    itself) at the period's end, with its status, unit, holder, model, location, last
    seen and OS as they were then (``reports.selectors.as_at``), in one query streamed
    through a server-side cursor on PostgreSQL, as tuples of typed values ready for
    the writers: strings already neutralised (core.exports.neutralise) where a formula
    trigger can occur, dates as dates, the last-seen time as a naive London date-time.
    No model instances, no per-row query.
    """
    cut = period_bounds(period_end, period_end)[1]
    cutoff = idle_cutoff(period_end, idle_days)
    params = as_at.params(cut, period_end)
    if direct_only:
        where = "d.business_unit_id = %(unit)s"
        order = "d.id"
        params["unit"] = unit.pk
    else:
        # The subtree's unit ids (one small query), so the filter reaches the scan of
        # the devices (their unit index) rather than waiting for the join to the units.
        subtree = BusinessUnit.objects.within(UnitScope.subtree(unit)).values_list("id", flat=True)
        where = f"d.business_unit_id IN ({', '.join(str(int(i)) for i in subtree)})"
        order = "u.path, d.id"
    statuses = ", ".join(f"'{s}'" for s in HELD_STATUSES)
    sql = f"""
        WITH {as_at.devices_as_at_ctes()},
        {as_at.people_as_at_ctes()}
        SELECT d.asset_tag, d.serial_number, mf.name, m.name, m.category, d.status, u.code,
               p.staff_number, p.leaver_date, d.location, d.purchase_date,
               d.warranty_expires, d.last_seen, d.os_version
        FROM asat d
        JOIN {Manufacturer._meta.db_table} mf ON mf.id = d.manufacturer_id
        JOIN {as_at.MODEL} m ON m.id = d.device_model_id
        JOIN {as_at.UNIT} u ON u.id = d.business_unit_id
        LEFT JOIN people_at p ON p.id = d.assigned_to_id
        WHERE d.status IN ({statuses}) AND {where}
        ORDER BY {order}
    """  # noqa: S608 - table names from model metadata, status codes inlined as such
    n = neutralise
    category_label, status_label = CATEGORY_LABELS.get, STATUS_LABELS.get
    deployed = S.DEPLOYED
    in_use = frozenset(IN_USE)
    to_date, to_moment = _date_reader(), _moment_reader()
    # One transaction while the rows stream: the changed devices and people are read
    # into its temporary tables first (as_at.prepare), and the server-side cursor lives
    # inside it (no WITH HOLD copy of the whole result at the end).
    with transaction.atomic():
        as_at.prepare(params)
        as_at.plan_for_scans()
        with connection.chunked_cursor() as cursor:
            cursor.execute(sql, params)
            while rows := cursor.fetchmany(chunk_size):
                for (
                    tag,
                    serial,
                    maker,
                    model,
                    category,
                    status,
                    code,
                    staff,
                    leaver,
                    location,
                    purchased,
                    warranty,
                    last_seen,
                    os_version,
                ) in rows:
                    leaver, last_seen = to_date(leaver), to_moment(last_seen)
                    yield (
                        n(tag) if tag else "",
                        n(serial) if serial else SERIAL_NOT_RECORDED,
                        n(maker),
                        n(model),
                        category_label(category, category),
                        status_label(status, status),
                        n(code),
                        n(staff) if staff else "",
                        leaver,
                        n(location or ""),
                        to_date(purchased),
                        to_date(warranty),
                        last_seen.astimezone(LONDON).replace(tzinfo=None) if last_seen else None,
                        n(os_version or ""),
                        "Yes"
                        if status == deployed and last_seen is not None and last_seen < cutoff
                        else "No",
                        "Yes"
                        if leaver is not None and leaver <= period_end and status in in_use
                        else "No",
                    )


def _date_reader():
    """Dates as dates: PostgreSQL's cursor gives them, SQLite's gives ISO text."""

    def read(value):
        return dt.date.fromisoformat(value) if isinstance(value, str) else value

    return read


def _moment_reader():
    """Aware date-times: SQLite's cursor gives the stored UTC text."""

    def read(value):
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value

    return read
