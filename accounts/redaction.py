"""Commercial redaction: the one place that decides which recorded values are
OFFICIAL-SENSITIVE [COMMERCIAL] and removes them for everyone but finance and
commercial roles (README "Classification").

Free-form records carry field values of other records: a device event's ``details``
(``{"changed": {"purchase_cost": ["642.31", "777.77"]}}`` from an update or an import
row), field-history rows, custody steps. Every output that shows them (the device
page's timeline and history, the event API, custody pages, PDFs and exports) passes
them through ``redact_commercial`` or ``redact_commercial_changes`` with the reader,
so the rule is stated once and a new commercial field is added here, once.
"""

from __future__ import annotations

from typing import Any

from accounts.roles import can_see_commercial

# Names under which a commercial figure is recorded anywhere in the estate: a device's
# cost, a model's unit price, order and contract values, residual values and income.
COMMERCIAL_KEYS = frozenset(
    {
        "purchase_cost",
        "unit_price",
        "planning_unit_price",
        "cost",
        "base_cost",
        "scenario_cost",
        "cost_delta",
        "price",
        "value",
        "value_ceiling",
        "framework_ceiling",
        "committed",
        "committed_total",
        "net_total",
        "vat_total",
        "gross_total",
        "estimated_value",
        "residual_value",
        "resale_income",
        "sale_price",
        "proceeds",
    }
)


def is_commercial_key(name: Any) -> bool:
    """Whether a recorded value named ``name`` is a commercial figure."""
    return isinstance(name, str) and name.lower() in COMMERCIAL_KEYS


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if not is_commercial_key(k)}
    if isinstance(value, list | tuple):
        return [_strip(v) for v in value]
    return value


def redact_commercial(details: Any, *, user) -> Any:
    """``details`` as ``user`` may read it: unchanged for finance and commercial
    roles; for anyone else a copy without any commercial key, at any depth (inside
    ``changed`` and any nested record). Never mutates its argument."""
    if can_see_commercial(user):
        return details
    return _strip(details)


def redact_commercial_changes(changes: list[dict], *, user, key: str = "field") -> list[dict]:
    """Field-history rows (``[{"field": "location", "old": ..., "new": ...}, ...]``) as
    ``user`` may read them: rows whose field is commercial are left out for roles that
    may not see commercial figures."""
    if can_see_commercial(user):
        return changes
    return [change for change in changes if not is_commercial_key(change.get(key))]
