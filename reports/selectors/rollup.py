"""Rolling the stewardship sections' rows up the unit tree: each row is added to the
unit it belongs to and to every ancestor of that unit, found from the materialised
``BusinessUnit.path`` (a row counted against ``MET/FLP/CE/`` is added to ``MET/``,
``MET/FLP/`` and ``MET/FLP/CE/``), then the derived figures are computed."""

from __future__ import annotations

import datetime as dt

from reports.selectors.labels import CATEGORIES, HEADLINE_LABELS, HELD_STATUSES, IN_USE, S
from reports.selectors.periods import LONDON


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
        "exceptions_open": [],
        "refresh": {"years": [], "by_year": {}},
        "headline": dict.fromkeys(HEADLINE_LABELS, 0),
    }


def roll_up(units: list[dict], sections: dict, period_end: dt.date) -> dict[int, dict]:
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

    for unit_id, staff_number, category, extra, requested_at in sections["exceptions"]:
        if unit_id not in known:
            continue
        entry = {
            "staff_number": staff_number,
            "unit": code_of[unit_id],
            "category": category,
            "extra": int(extra),
            "requested_on": _day(requested_at),
        }
        for fig in up(unit_id):
            fig["exceptions_open"].append(entry)

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
    """Derived figures: devices beyond entitlement and the headline numbers.

    Beyond entitlement is counted person by person (what each holds past their own
    allowance) and then added up by category, so the categories add up to the
    headline figure; a unit's pooled in-use minus entitled would hide one person's
    excess behind another's unused allowance."""
    for values in fig["entitlement"].values():
        values["excess"] = 0
    for person in fig["people_over"]:
        fig["entitlement"][person["category"]]["excess"] += person["held"] - person["allowed"]
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
        "exceptions_awaiting_review": len(fig["exceptions_open"]),
    }


def _day(value) -> str:
    """A stored date-time (a datetime, or SQLite's text) as its London date, ISO."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(LONDON).date().isoformat()
