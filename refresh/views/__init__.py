"""Refresh pages. Thin: parse, call a selector or a service, render.

One module per idea; ``refresh.urls`` reaches every page through this package.
"""

from refresh.views.eligibility_pages import eligibility, eligibility_export, eligibility_recompute
from refresh.views.forecast_pages import baseline_create, failure_rates, forecast, forecast_export
from refresh.views.policy_pages import bau_rates, policy_list
from refresh.views.scenario_pages import scenario_compare, scenario_edit, scenario_list
from refresh.views.swap_pages import wave_item_cancel, wave_item_detail
from refresh.views.wave_pages import wave_detail, wave_list

__all__ = [
    "baseline_create",
    "bau_rates",
    "eligibility",
    "eligibility_export",
    "eligibility_recompute",
    "failure_rates",
    "forecast",
    "forecast_export",
    "policy_list",
    "scenario_compare",
    "scenario_edit",
    "scenario_list",
    "wave_detail",
    "wave_item_cancel",
    "wave_item_detail",
    "wave_list",
]
