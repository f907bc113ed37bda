"""The report runs a user may see, what a run is compared with, and the finance
report's figures."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet

from accounts.models import BusinessUnit
from accounts.roles import Role, can_see_commercial, has_role
from devices.status_colours import chart_fill
from procurement.selectors import envelope_position
from reports.models import ReportRun
from reports.selectors.labels import (
    CATEGORIES,
    CATEGORY_LABELS,
    HEADLINE_LABELS,
    HELD_STATUSES,
    STATUS_LABELS,
)


def previous_summary(*, run: ReportRun) -> dict | None:
    """The summary of the same unit's latest earlier succeeded run of the same kind."""
    previous = (
        ReportRun.objects.filter(
            kind=run.kind,
            business_unit_id=run.business_unit_id,
            status=ReportRun.Status.SUCCEEDED,
            period_start__lt=run.period_start,
        )
        .order_by("-period_start")
        .values("period_start", "period_end", "summary")
        .first()
    )
    return previous


def trend(*, current: dict, previous: dict | None) -> list[dict]:
    """Headline figures against the previous report: figure, previous, now, change.
    Only the figures this report counts; ``previous`` and ``change`` are None where
    there is no earlier report or it did not count the figure."""
    before = (previous or {}).get("summary", {}).get("headline", {}) if previous else {}
    rows = []
    for key, label in HEADLINE_LABELS.items():
        now = current.get(key)
        if now is None:
            continue
        then = before.get(key) if previous else None
        change = now - then if isinstance(now, int) and isinstance(then, int) else None
        rows.append(
            {"key": key, "label": label, "previous": then, "current": now, "change": change}
        )
    return rows


def as_at_label(period_end: dt.date) -> str:
    """The moment a report's figures describe: "23:59 on 30 September 2026" (London)."""
    return f"23:59 on {period_end:%-d %B %Y}"


def run_trend(*, run: ReportRun) -> dict:
    """A run's headline figures against the unit's previous report (each as at its own
    month's end), with labels, for the run page: ``{"rows", "previous_label",
    "missing"}``. Computed from the stored summaries, so a figures-only run has its
    previous and change columns too. One query."""
    previous = previous_summary(run=run)
    rows = trend(current=(run.summary or {}).get("headline", {}), previous=previous)
    return {
        "rows": rows,
        "previous_label": f"{previous['period_start']:%B %Y}" if previous else None,
        "missing": [r["label"] for r in rows if previous and r["previous"] is None],
    }


def summary_sections(summary: dict) -> list[dict]:
    """A run's sections (from its stored figures) as small tables for the run page:
    ``[{"title", "note", "header", "rows", "total"}]``, first column a label, the rest
    numbers. Sections a run did not store are left out."""
    summary = summary or {}
    sections = []
    entitlement = summary.get("entitlement")
    if entitlement:
        sections.append(
            {
                "title": "Devices in use against entitlement",
                "note": "Beyond entitlement counts the devices each person holds past their "
                "allowance; its total is the headline figure.",
                "header": ["Category", "In use", "Entitled", "Beyond entitlement"],
                "rows": [
                    [CATEGORY_LABELS.get(c, c), v.get("in_use", 0), v.get("entitled", 0),
                     v.get("excess", 0)]
                    for c, v in entitlement.items()
                ],
            }
        )  # fmt: skip
    idle = summary.get("idle")
    if idle:
        sections.append(
            {
                "title": "Idle devices to reclaim",
                "note": "Deployed devices not reported in for the idle period, and never.",
                "header": ["Category", "Idle", "Never seen"],
                "rows": [
                    [CATEGORY_LABELS.get(c, c), v.get("idle", 0), v.get("never_seen", 0)]
                    for c, v in idle.items()
                ],
            }
        )
    refresh = summary.get("refresh") or {}
    years = refresh.get("years") or []
    if years:
        sections.append(
            {
                "title": "Devices due for refresh",
                "note": f"This financial year ({years[0]}) and next.",
                "header": ["Category", *years],
                "rows": [
                    [CATEGORY_LABELS.get(c, c), *[refresh["by_year"][y].get(c, 0) for y in years]]
                    for c in CATEGORIES
                ],
            }
        )
    stock, lost = summary.get("stock"), summary.get("lost")
    if stock and lost:
        sections.append(
            {
                "title": "Unassigned stock, and lost or stolen in the period",
                "note": "",
                "header": ["Category", "In stock", "Lost or stolen"],
                "rows": [
                    [CATEGORY_LABELS.get(c, c), stock.get(c, 0), lost.get(c, 0)] for c in CATEGORIES
                ],
            }
        )
    for section in sections:
        width = len(section["header"]) - 1
        section["total"] = [
            "Total",
            *[sum(row[i + 1] for row in section["rows"]) for i in range(width)],
        ]
    return sections


# --- finance ---------------------------------------------------------------------


def finance_position(*, as_of: dt.date) -> dict:
    """Procurement's envelope position as of a day (the finance report's figures)."""
    return envelope_position(as_of=as_of)


# --- runs a user may see ------------------------------------------------------


def may_see_finance(user) -> bool:
    """The finance report carries commercial figures: finance and commercial roles only."""
    return can_see_commercial(user)


def may_generate(user) -> bool:
    return has_role(user, Role.ASSET_MANAGER, Role.FINANCE, Role.UNIT_VIEWER, Role.COMMERCIAL)


def report_run_list(
    *, user, unit_id: int | None = None, period: dt.date | None = None, kind: str | None = None
) -> QuerySet[ReportRun]:
    """Runs the user may see: stewardship runs for units in their scope, and the
    finance runs only for finance and commercial roles."""
    qs = ReportRun.objects.visible_to(user).select_related("business_unit")
    if unit_id:
        qs = qs.filter(business_unit_id=unit_id)
    if period:
        qs = qs.filter(period_start=period)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("-period_start", "kind", "business_unit__path", "id")


def report_run_get(*, user, pk: int) -> ReportRun:
    """A run the user may see; anything else is ReportRun.DoesNotExist (a 404)."""
    return report_run_list(user=user).get(pk=pk)


def generatable_units(*, user) -> QuerySet[BusinessUnit]:
    """The active units in the user's scope: those they may ask a report for."""
    return BusinessUnit.objects.visible_to(user).filter(active=True)


def summary_status_table(summary: dict) -> dict | None:
    """A run's devices by category and status, for the detail page's chart and its table."""
    by_status = (summary or {}).get("by_category_status")
    if not by_status:
        return None
    statuses = [s for s in HELD_STATUSES if any(by_status.get(c, {}).get(s) for c in CATEGORIES)]
    rows = [
        {
            "category": CATEGORY_LABELS[c],
            "counts": [by_status.get(c, {}).get(s, 0) for s in statuses],
            "total": sum(by_status.get(c, {}).values()),
        }
        for c in CATEGORIES
    ]
    return {
        "statuses": [STATUS_LABELS[s] for s in statuses],
        "rows": rows,
        "totals": [sum(r["counts"][i] for r in rows) for i in range(len(statuses))],
        "total": sum(r["total"] for r in rows),
        "chart": {
            "labels": [r["category"] for r in rows],
            "datasets": [
                {
                    "label": STATUS_LABELS[s],
                    "data": [r["counts"][i] for r in rows],
                    "color": chart_fill(s),
                }
                for i, s in enumerate(statuses)
            ],
        },
    }
