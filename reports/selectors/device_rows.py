"""The device-level rows of a unit's stewardship report, and the rule for when they
cover the unit's whole subtree."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from django.conf import settings

from accounts.models import BusinessUnit
from accounts.scoping import UnitScope
from core.exports import neutralise
from core.financial_year import LONDON
from devices.models import Device
from reports.selectors.labels import CATEGORY_LABELS, HELD_STATUSES, IN_USE, STATUS_LABELS, S
from reports.selectors.periods import idle_cutoff

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
    return min(int(getattr(settings, "REPORTS_MAX_DEVICE_ROWS", 100_000)), EXCEL_DEVICE_ROWS)


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
    itself), in one query streamed through a server-side cursor on PostgreSQL, as
    tuples of typed values ready for the writers: strings already neutralised
    (core.exports.neutralise) where a formula trigger can occur, dates as dates, the
    last-seen time as a naive London date-time. No model instances, no per-row query.
    """
    cutoff = idle_cutoff(period_end, idle_days)
    rows = Device.objects.filter(status__in=HELD_STATUSES)
    if direct_only:
        rows = rows.filter(business_unit_id=unit.pk).order_by("id")
    else:
        rows = rows.within(UnitScope.subtree(unit)).order_by("business_unit__path", "id")
    rows = rows.values_list(
        "asset_tag",
        "serial_number",
        "manufacturer__name",
        "device_model__name",
        "device_model__category",
        "status",
        "business_unit__code",
        "assigned_to__staff_number",
        "assigned_to__leaver_date",
        "location",
        "purchase_date",
        "warranty_expires",
        "last_seen",
        "os_version",
    )
    n = neutralise
    category_label, status_label = CATEGORY_LABELS.get, STATUS_LABELS.get
    deployed = S.DEPLOYED
    in_use = frozenset(IN_USE)
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
    ) in rows.iterator(chunk_size=chunk_size):
        yield (
            n(tag) if tag else "",
            n(serial),
            n(maker),
            n(model),
            category_label(category, category),
            status_label(status, status),
            n(code),
            n(staff) if staff else "",
            leaver,
            n(location),
            purchased,
            warranty,
            last_seen.astimezone(LONDON).replace(tzinfo=None) if last_seen else None,
            n(os_version),
            "Yes" if status == deployed and last_seen is not None and last_seen < cutoff else "No",
            "Yes" if leaver is not None and leaver <= period_end and status in in_use else "No",
        )
