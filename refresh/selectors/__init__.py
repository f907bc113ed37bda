"""Reads for refresh planning: eligibility lists, the demand forecast, baselines,
scenario comparisons, failure analytics and waves.

One module per idea; the public names are re-exported here, so callers write
``from refresh import selectors`` / ``from refresh.selectors import forecast_totals``.
A ``scope`` argument is an ``accounts.scoping.UnitScope`` applied through the
models' scoped managers; where it is optional, None means the whole estate.
"""

from refresh.selectors.eligibility import (
    eligibility_for_device,
    eligibility_list,
    eligibility_summary,
    last_eligibility_run,
)
from refresh.selectors.failures import AGE_BANDS, failure_rates
from refresh.selectors.forecast import (
    baseline_totals,
    forecast_lines,
    forecast_totals,
    forecast_with_variance,
    plan_snapshot,
    refresh_due_by_unit,
)
from refresh.selectors.forecast_engine import (
    CATEGORIES,
    IN_USE,
    PAPER_FUNDED_CATEGORIES,
    Overrides,
    bau_rates,
    bau_volume,
    category_prices,
    default_financial_years,
    financial_year_in_range,
    funded_set,
)
from refresh.selectors.policies import policies_current, policies_in_force
from refresh.selectors.scenarios import scenario_compare
from refresh.selectors.waves import (
    CENTRAL_STORE_MARKERS,
    allocatable_devices,
    central_store_q,
    central_store_unit,
    devices_matching_code,
    is_central_store,
    live_swap_for_device,
    stock_for_item,
    swap_at_check,
    swap_steps,
    wave_items,
    wave_list,
)

__all__ = [
    "AGE_BANDS",
    "CATEGORIES",
    "CENTRAL_STORE_MARKERS",
    "IN_USE",
    "PAPER_FUNDED_CATEGORIES",
    "Overrides",
    "baseline_totals",
    "bau_rates",
    "bau_volume",
    "category_prices",
    "default_financial_years",
    "eligibility_for_device",
    "eligibility_list",
    "eligibility_summary",
    "failure_rates",
    "financial_year_in_range",
    "funded_set",
    "forecast_lines",
    "forecast_totals",
    "forecast_with_variance",
    "allocatable_devices",
    "central_store_q",
    "central_store_unit",
    "is_central_store",
    "last_eligibility_run",
    "plan_snapshot",
    "policies_current",
    "policies_in_force",
    "refresh_due_by_unit",
    "scenario_compare",
    "stock_for_item",
    "swap_at_check",
    "swap_steps",
    "devices_matching_code",
    "live_swap_for_device",
    "wave_items",
    "wave_list",
]
