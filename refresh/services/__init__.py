"""Writes for refresh planning: policies, eligibility, rates, baselines,
scenarios, waves, swaps and the failure-rate snapshot.

One module per idea; the public names are re-exported here, so callers write
``from refresh import services`` and ``services.wave_create(...)``.
"""

from refresh.selectors.waves import CENTRAL_STORE_MARKERS, is_central_store
from refresh.services.baselines import baseline_snapshot_create
from refresh.services.eligibility import (
    ELIGIBILITY_LOCK_KEY,
    eligibility_recompute,
    eligibility_recompute_request,
)
from refresh.services.failures import (
    FAILURE_RATES_LOCK_KEY,
    failure_rates_for_page,
    failure_rates_snapshot_refresh,
)
from refresh.services.policies import bau_rate_save, os_end_of_support_save, refresh_policy_create
from refresh.services.scenarios import BAU_KEYS, scenario_overrides_clean, scenario_save
from refresh.services.swaps import (
    DEVICE_NOT_FOUND,
    SWAP_TRANSITIONS,
    swap_allocate,
    swap_allocate_by_code,
    swap_cancel,
    swap_complete,
    swap_confirm_at,
    swap_hand_over,
    swap_record_return,
)
from refresh.services.waves import wave_create

__all__ = [
    "BAU_KEYS",
    "CENTRAL_STORE_MARKERS",
    "DEVICE_NOT_FOUND",
    "ELIGIBILITY_LOCK_KEY",
    "FAILURE_RATES_LOCK_KEY",
    "SWAP_TRANSITIONS",
    "baseline_snapshot_create",
    "bau_rate_save",
    "eligibility_recompute",
    "eligibility_recompute_request",
    "failure_rates_for_page",
    "failure_rates_snapshot_refresh",
    "is_central_store",
    "os_end_of_support_save",
    "refresh_policy_create",
    "scenario_overrides_clean",
    "scenario_save",
    "swap_allocate",
    "swap_allocate_by_code",
    "swap_cancel",
    "swap_complete",
    "swap_confirm_at",
    "swap_hand_over",
    "swap_record_return",
    "wave_create",
]
