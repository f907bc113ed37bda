"""Baseline snapshots: the estate and the forecast frozen at a date."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from core.errors import DomainError
from core.financial_year import FinancialYear
from refresh.models import BaselineRow, BaselineSnapshot
from refresh.selectors.forecast import forecast_lines


def baseline_snapshot_create(
    *,
    name: str,
    as_of: dt.date,
    financial_years: list[FinancialYear],
    is_plan: bool = False,
    actor=None,
    note: str = "",
) -> BaselineSnapshot:
    """Freeze the estate and in-scope people at ``as_of`` and the forecast made
    from them (business case: volumes "based on volumes of devices and in scope
    users as of late 2024" are the maximum, monitored through the period).

    The rows come from grouped queries (a few per unit and category), never per
    device. Marking a snapshot as the plan unmarks the previous plan.
    """
    if not name.strip():
        raise DomainError("Give the baseline a name.", field="name")
    if not financial_years:
        raise DomainError("Choose at least one financial year.", field="financial_years")
    with transaction.atomic():
        if is_plan:
            BaselineSnapshot.objects.select_for_update().filter(is_plan=True).update(is_plan=False)
        snapshot = BaselineSnapshot(
            name=name.strip(), as_of=as_of, is_plan=is_plan, created_by=actor, note=note
        )
        snapshot.full_clean()
        snapshot.save()
        lines = forecast_lines(financial_years=financial_years, as_of=as_of)
        BaselineRow.objects.bulk_create(
            BaselineRow(
                snapshot=snapshot,
                business_unit_id=line["business_unit_id"],
                category=line["category"],
                financial_year=line["fy"].start_year,
                devices_in_use=line["devices_in_use"],
                people_in_scope=line["people_in_scope"],
                refresh_volume=line["refresh_volume"],
                bau_volume=line["bau_volume"],
            )
            for line in lines
        )
    return snapshot
