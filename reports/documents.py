"""Turn figures into report documents (format-free): the stewardship report for a
unit and the finance report for the organisation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from accounts.models import BusinessUnit
from core.exports import OFFICIAL, OFFICIAL_SENSITIVE_COMMERCIAL
from core.financial_year import LONDON
from devices.status_colours import chart_fill
from reports import selectors
from reports.selectors import CATEGORIES, CATEGORY_LABELS, STATUS_LABELS
from reports.writers import Chart, ReportDocument, Table

STEWARDSHIP_TITLE = "Device stewardship report"
FINANCE_TITLE = "Finance report: capital envelope position"


def stewardship_document(
    *,
    unit: BusinessUnit,
    figures: dict,
    trend_rows: list[dict],
    previous_label: str | None,
    period_label: str,
    period_end: dt.date,
    idle_days: int,
    generated_at: dt.datetime,
    with_device_rows: bool = True,
    max_device_rows: int | None = None,
) -> ReportDocument:
    """The stewardship report holds no commercial figures (no prices or costs), so it is OFFICIAL.

    It opens with the headline figures against the previous report (the trend), then
    each section; what the reader needs to know about the run and the device rows
    comes last. Every figure is as at the period's end.

    Device rows follow the device-rows rule (``selectors.max_device_rows``; the
    ``max_device_rows`` argument overrides the setting): the whole subtree up to the
    cap, above it the unit's own devices plus a per-sub-unit sheet and a note.
    """
    cap = selectors.max_device_rows() if max_device_rows is None else max_device_rows
    as_at = selectors.as_at_label(period_end)
    statuses = list(next(iter(figures["by_category_status"].values())).keys())
    status_rows = []
    for category in CATEGORIES:
        counts = figures["by_category_status"][category]
        status_rows.append(
            [CATEGORY_LABELS[category], *[counts[s] for s in statuses], sum(counts.values())]
        )
    status_rows.append(
        ["Total", *[sum(r[i + 1] for r in status_rows) for i in range(len(statuses))]]
        + [sum(r[-1] for r in status_rows)]
    )
    tables = [
        _trend_table(trend_rows, previous_label),
        Table(
            title="Devices by category and status",
            note=f"Devices the unit and its sub-units held at {as_at}.",
            header=["Category", *[STATUS_LABELS[s] for s in statuses], "Total"],
            rows=status_rows,
            chart=Chart(
                title="Devices by category and status",
                value_columns=list(range(1, len(statuses) + 1)),
                stacked=True,
                rows=len(CATEGORIES),
                colours=[chart_fill(s) for s in statuses],
            ),
        ),
        Table(
            title="Devices in use against entitlement",
            note=(
                "In use means deployed or in repair. Entitled is the sum of the role "
                "entitlements of the unit's people at the period's end (leavers excluded). "
                "Beyond entitlement counts, person by person, the devices each holds past "
                "their role's allowance and any approved exception: its total is the "
                "headline figure."
            ),
            header=["Category", "In use", "Entitled", "Beyond entitlement"],
            rows=[
                [CATEGORY_LABELS[c], v["in_use"], v["entitled"], v["excess"]]
                for c, v in figures["entitlement"].items()
            ],
            chart=Chart(title="In use against entitlement", value_columns=[1, 2]),
        ),
        Table(
            title="People holding more than their entitlement",
            note="Staff numbers only; approved, still-valid entitlement exceptions are allowed for.",
            header=["Staff number", "Unit", "Category", "Held", "Allowed"],
            rows=[
                [
                    p["staff_number"],
                    p["unit"],
                    CATEGORY_LABELS.get(p["category"]),
                    p["held"],
                    p["allowed"],
                ]
                for p in figures["people_over"]
            ],
        ),
        Table(
            title="Entitlement exceptions awaiting review",
            note=(
                "Requested before the period's end and not yet approved or refused by then, "
                "for the unit and its sub-units. Each needs a decision by someone other than "
                "the requester."
            ),
            header=["Staff number", "Unit", "Category", "Extra devices", "Requested on"],
            rows=[
                [
                    e["staff_number"],
                    e["unit"],
                    CATEGORY_LABELS.get(e["category"], e["category"]),
                    e["extra"],
                    dt.date.fromisoformat(e["requested_on"]),
                ]
                for e in figures.get("exceptions_open", [])
            ],
        ),
        Table(
            title="Unassigned stock held by the unit",
            header=["Category", "In stock"],
            rows=[[CATEGORY_LABELS[c], n] for c, n in figures["stock"].items()],
        ),
        Table(
            title=f"Idle devices to reclaim (deployed, not seen for {idle_days} days)",
            note=(
                f"Idle: last seen before {selectors.idle_cutoff(period_end, idle_days):%-d %B %Y}. "
                "Never seen: deployed but never reported in by device management."
            ),
            header=["Category", "Idle", "Never seen"],
            rows=[
                [CATEGORY_LABELS[c], v["idle"], v["never_seen"]] for c, v in figures["idle"].items()
            ],
            chart=Chart(title="Idle devices", value_columns=[1, 2]),
        ),
        Table(
            title="Leavers still holding devices",
            note="People whose leaver date is on or before the end of the period.",
            header=["Staff number", "Unit", "Leaver date", "Devices held"],
            rows=[
                [
                    p["staff_number"],
                    p["unit"],
                    dt.date.fromisoformat(p["leaver_date"]),
                    p["devices"],
                ]
                for p in figures["leavers"]
            ],
        ),
        _refresh_table(figures["refresh"], period_end),
        Table(
            title="Lost or stolen in the period",
            header=["Category", "Devices"],
            rows=[[CATEGORY_LABELS[c], n] for c, n in figures["lost"].items()],
        ),
    ]
    whole = selectors.lists_whole_subtree(figures, cap)
    document = ReportDocument(
        title=STEWARDSHIP_TITLE,
        subject=f"{unit.name} ({unit.code}) and its sub-units",
        marking=OFFICIAL,
        period_label=period_label,
        generated_at=generated_at,
        as_at=f"Figures as at {as_at}",
        tables=tables,
        notes=[] if whole else [device_rows_note(figures, cap)],
        about=[
            ("Period", period_label),
            ("Figures as at", as_at),
            ("Previous report", previous_label or "None: this is the unit's first"),
            ("Generated", f"{generated_at.astimezone(LONDON):%-d %B %Y %H:%M}"),
            ("Classification", OFFICIAL),
        ],
    )
    if not whole:
        document.sheets = [("Sub-units", [_sub_unit_table(figures, cap)])]
    if with_device_rows:
        document.detail_header = selectors.DEVICE_ROW_HEADER
        document.detail_typed = True
        document.detail_date_columns = selectors.DEVICE_ROW_DATE_COLUMNS
        document.detail_datetime_columns = selectors.DEVICE_ROW_DATETIME_COLUMNS
        if not whole:
            document.detail_note = (
                f"Devices held directly by {unit.code} only: each sub-unit's report lists its own."
            )
        document.detail_rows = lambda: selectors.stewardship_device_rows(
            unit=unit, period_end=period_end, idle_days=idle_days, direct_only=not whole
        )
    return document


def _trend_table(trend_rows: list[dict], previous_label: str | None) -> Table:
    """The headline figures against the previous report: the report's first table.
    A figure with nothing to compare shows "—" and the note says why."""
    missing = [r["label"] for r in trend_rows if previous_label and r["previous"] is None]
    if previous_label is None:
        note = "No earlier report for this unit: this is the first, so Previous and Change show —."
    else:
        note = f"Previous: the {previous_label} report, its figures as at that month's end."
        if missing:
            note += f" Not counted in that report, so shown as —: {', '.join(missing)}."
    return Table(
        title="Headline figures and trend",
        note=note,
        header=["Figure", "Previous", "This period", "Change"],
        rows=[[r["label"], r["previous"], r["current"], r["change"]] for r in trend_rows],
        chart=Chart(
            title="This period against the previous report",
            value_columns=[1, 2],
            kind="bar",
            rows=9,
            y_title="",
        )
        if previous_label
        else None,
        pdf_limit=None,
    )


def device_rows_note(figures: dict, cap: int) -> str:
    """What a report above the device-rows cap says on its summary sheet and in its PDF."""
    code = figures["unit"]["code"]
    return (
        f"{code} and its sub-units hold {figures['headline']['devices_held']:,} devices, more "
        f"than the {cap:,} a report lists device by device. The device "
        f"rows (the Devices sheet and the CSV) are the devices {code} holds directly; the "
        "devices of each sub-unit are listed in that sub-unit's own report, and the 'Sub-units' "
        "sheet counts them by category and status. Every figure in this report still "
        "includes all sub-units."
    )


def _sub_unit_table(figures: dict, max_rows: int) -> Table:
    """Devices by category and status for the unit itself and each direct sub-unit
    (sub-units' counts include their own sub-units)."""
    statuses = list(next(iter(figures["by_category_status"].values())).keys())
    unit = figures["unit"]
    entries = [
        {
            "code": unit["code"],
            "name": f"{unit['name']} (held directly)",
            "by_category_status": figures["direct"],
            "where": "This report",
        },
        *[
            {
                **sub,
                "where": "Its report"
                if sub["devices_held"] <= max_rows
                else "Its report (held directly) and its sub-units' reports",
            }
            for sub in figures["sub_units"]
        ],
    ]
    rows = []
    for entry in entries:
        for category in CATEGORIES:
            counts = entry["by_category_status"][category]
            total = sum(counts.values())
            if total:
                rows.append(
                    [
                        entry["code"],
                        entry["name"],
                        CATEGORY_LABELS[category],
                        *[counts[s] for s in statuses],
                        total,
                        entry["where"],
                    ]
                )
    return Table(
        title="Devices by sub-unit, category and status",
        note=(
            "Sub-units' counts include their own sub-units. 'Device rows in' says which "
            "report lists those devices one by one."
        ),
        header=[
            "Unit",
            "Name",
            "Category",
            *[STATUS_LABELS[s] for s in statuses],
            "Total",
            "Device rows in",
        ],
        rows=rows,
        in_pdf=False,
    )


def _refresh_table(refresh: dict, period_end: dt.date) -> Table:
    years = refresh["years"]
    rows = [[CATEGORY_LABELS[c], *[refresh["by_year"][y][c] for y in years]] for c in CATEGORIES]
    return Table(
        title="Devices due for refresh",
        note=(
            f"This financial year ({years[0]}) and next ({years[1]}): the devices in use or "
            f"in stock at the period's end, by the refresh policy in force on "
            f"{period_end:%-d %B %Y} (age, repairs, end of support; idle devices are "
            "reclaimed instead)."
        ),
        header=["Category", *years],
        rows=rows,
        chart=Chart(title="Due for refresh", value_columns=list(range(1, len(years) + 1))),
    )


# --- finance ---------------------------------------------------------------


NO_ENVELOPE = (
    "No capital envelope is recorded, so there is no envelope position to report. "
    "No figures have been estimated."
)


def finance_document(
    *, position: dict, period_label: str, generated_at: dt.datetime
) -> ReportDocument:
    """The envelope position carries commercial figures: OFFICIAL-SENSITIVE [COMMERCIAL].

    ``position`` is procurement's ``envelope_position`` (``selectors.finance_position``),
    laid out by its shape rather than by named keys: scalar values become headline
    figures and each list of records becomes a table. A figure procurement adds to
    the position reaches the report without a change here, and the report shows only
    what procurement computed.
    """
    document = ReportDocument(
        title=FINANCE_TITLE,
        subject="Capital envelope: commitments, receipts and forecast by financial year and category",
        marking=OFFICIAL_SENSITIVE_COMMERCIAL,
        period_label=period_label,
        generated_at=generated_at,
        about=[
            ("Period", period_label),
            ("Generated", f"{generated_at.astimezone(LONDON):%-d %B %Y %H:%M}"),
            ("Classification", OFFICIAL_SENSITIVE_COMMERCIAL),
        ],
    )
    if position["envelope"] is None:
        document.notes = [NO_ENVELOPE]
        return document
    headline, tables = [], []
    _flatten(position, "", headline, tables)
    document.headline = headline
    document.tables = tables
    if tables:
        main = max(tables, key=lambda t: len(t.rows))
        document.detail_title = "Position"
        document.detail_header = main.header
        document.detail_rows = lambda: iter(main.rows)
        numeric = [
            i
            for i in range(1, len(main.header))
            if main.rows
            and all(isinstance(r[i], int | float | Decimal) for r in main.rows if r[i] is not None)
        ]
        if numeric and len(main.rows) <= 40:
            main.chart = Chart(title=main.title, value_columns=numeric[:4], y_title="£")
    if not headline and not tables:
        document.notes = ["Procurement returned an empty envelope position."]
    return document


def _label(key: str) -> str:
    return str(key).replace("_", " ").strip().capitalize()


def _scalar(value):
    if (
        isinstance(value, dt.date | dt.datetime | Decimal | int | float | str | bool)
        or value is None
    ):
        return value
    return str(value)


def _flatten(value, prefix: str, headline: list, tables: list) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{prefix} {_label(key)}".strip() if prefix else _label(key)
            if isinstance(item, list) and item and all(isinstance(r, dict) for r in item):
                header = []
                for record in item:
                    for k in record:
                        if k not in header:
                            header.append(k)
                rows = [[_scalar(r.get(k)) for k in header] for r in item]
                tables.append(
                    Table(title=name, header=[_label(h) for h in header], rows=rows, pdf_limit=40)
                )
            elif (
                isinstance(item, dict) and item and all(isinstance(v, dict) for v in item.values())
            ):
                # {row_key: {column: value}} -> a table
                header = []
                for record in item.values():
                    for k in record:
                        if k not in header:
                            header.append(k)
                rows = [
                    [str(rk), *[_scalar(_plain(r.get(k))) for k in header]]
                    for rk, r in item.items()
                ]
                tables.append(
                    Table(
                        title=name,
                        header=["", *[_label(h) for h in header]],
                        rows=rows,
                        pdf_limit=40,
                    )
                )
            elif isinstance(item, dict | list):
                _flatten(item, name, headline, tables)
            else:
                headline.append((name, _scalar(item)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _flatten(item, f"{prefix} {i + 1}", headline, tables)


def _plain(value):
    return str(value) if isinstance(value, dict | list) else value
