"""Reads for procurement: the headroom (one definition for every page, export,
report and the API), the envelope position built on it, the burn-down, and the lists.

Every figure here is OFFICIAL-SENSITIVE [COMMERCIAL] except the volumes; views and
the API decide who sees which (accounts.roles.can_see_commercial). Callers write
``from procurement import selectors`` and ``selectors.x(...)``.
"""

from procurement.selectors.headroom import (
    CLOSED,
    OVER_BUDGET,
    OVER_PLAN_VOLUME,
    SIGNAL_TAGS,
    SIGNALS,
    WITHIN_PLAN,
    current_envelope,
    forecast_by_year_category,
    headroom,
    headroom_after_approval,
    line_figures,
    scenario_envelope,
)
from procurement.selectors.lists import (
    budget_line_list,
    budget_transfer_list,
    contract_list,
    contract_warnings,
    purchase_order_get,
    purchase_order_list,
    purchase_order_status_counts,
    received_devices_for,
)
from procurement.selectors.position import (
    category_year_volumes,
    commitment_burn_down,
    envelope_position,
    year_totals,
)

__all__ = [
    "CLOSED",
    "OVER_BUDGET",
    "OVER_PLAN_VOLUME",
    "SIGNALS",
    "SIGNAL_TAGS",
    "WITHIN_PLAN",
    "budget_line_list",
    "budget_transfer_list",
    "category_year_volumes",
    "commitment_burn_down",
    "contract_list",
    "contract_warnings",
    "current_envelope",
    "envelope_position",
    "forecast_by_year_category",
    "headroom",
    "headroom_after_approval",
    "line_figures",
    "purchase_order_get",
    "purchase_order_list",
    "purchase_order_status_counts",
    "received_devices_for",
    "scenario_envelope",
    "year_totals",
]
