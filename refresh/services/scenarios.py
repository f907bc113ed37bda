"""Scenarios: validated what-if overrides of policy, rates and prices."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from core.errors import DomainError
from core.financial_year import FinancialYear
from refresh.models import MAX_NEW_STARTERS, MAX_UNIT_PRICE, MAX_VOLUME_CAP, Scenario
from refresh.selectors.forecast_engine import CATEGORIES
from refresh.services.validation import raise_validation

BAU_KEYS = ("new_starters_per_year", "breakage_rate_pct", "growth_pct")
# The sane range of each BAU rate (the same as BauRate's and the forms').
BAU_RANGES = {
    "new_starters_per_year": (Decimal(0), Decimal(MAX_NEW_STARTERS)),
    "breakage_rate_pct": (Decimal(0), Decimal(100)),
    "growth_pct": (Decimal(-100), Decimal(100)),
}


def _finite_decimal(value) -> Decimal:
    """A Decimal from ``value``; NaN and infinities are not numbers here."""
    if isinstance(value, bool):
        raise ValueError
    number = Decimal(str(value).strip())
    if not number.is_finite():
        raise ValueError
    return number


def scenario_overrides_clean(raw: Any) -> dict:
    """Validate scenario overrides and return them normalised.

    Shape (every key optional)::

        {"lifecycle_months": {"laptop": 60},
         "defer_years": {"monitor": 1},
         "volume_caps": {"2025/26": {"laptop": 12000}},
         "unit_prices": {"laptop": "850.00"},
         "bau": {"laptop": {"new_starters_per_year": 1500, "breakage_rate_pct": "2.5",
                            "growth_pct": "0"}}}

    Errors name the key and the reason.
    """
    if raw in (None, ""):
        return {}
    if not isinstance(raw, dict):
        raise DomainError("Overrides must be an object.", field="overrides")
    unknown = set(raw) - {"lifecycle_months", "defer_years", "volume_caps", "unit_prices", "bau"}
    if unknown:
        raise DomainError(f"Unknown override: {', '.join(sorted(unknown))}.", field="overrides")
    clean: dict[str, Any] = {}

    def category_map(key, convert, check):
        value = raw.get(key) or {}
        if not isinstance(value, dict):
            raise DomainError(f"{key} must map categories to values.", field=key)
        out = {}
        for category, item in value.items():
            if category not in CATEGORIES:
                raise DomainError(f"{key}: {category!r} is not a category.", field=key)
            try:
                converted = convert(item)
            except (TypeError, ValueError, InvalidOperation):
                raise DomainError(
                    f"{key}.{category}: {item!r} is not a number.", field=key
                ) from None
            problem = check(converted)
            if problem:
                raise DomainError(f"{key}.{category}: {problem}.", field=key)
            out[category] = converted
        return out

    def as_int(v):
        if isinstance(v, bool) or (isinstance(v, float) and not v.is_integer()):
            raise ValueError
        return int(str(v).strip())

    if "lifecycle_months" in raw:
        clean["lifecycle_months"] = category_map(
            "lifecycle_months",
            as_int,
            lambda v: None if 1 <= v <= 240 else "must be 1 to 240 months",
        )
    if "defer_years" in raw:
        clean["defer_years"] = category_map(
            "defer_years", as_int, lambda v: None if 0 <= v <= 10 else "must be 0 to 10 years"
        )
    if "unit_prices" in raw:
        prices = category_map(
            "unit_prices",
            _finite_decimal,
            lambda v: (
                "cannot be negative"
                if v < 0
                else (f"cannot be more than {MAX_UNIT_PRICE:,}" if v > MAX_UNIT_PRICE else None)
            ),
        )
        clean["unit_prices"] = {k: str(v.quantize(Decimal("0.01"))) for k, v in prices.items()}
    if "volume_caps" in raw:
        caps = raw["volume_caps"] or {}
        if not isinstance(caps, dict):
            raise DomainError(
                "volume_caps must map financial years to categories.", field="volume_caps"
            )
        clean_caps = {}
        for label, per_category in caps.items():
            try:
                fy = FinancialYear.parse(str(label))
            except ValueError as exc:
                raise DomainError(f"volume_caps: {exc}.", field="volume_caps") from None
            if not isinstance(per_category, dict):
                raise DomainError(
                    f"volume_caps.{label} must map categories to volumes.", field="volume_caps"
                )
            inner = {}
            for category, value in per_category.items():
                if category not in CATEGORIES:
                    raise DomainError(
                        f"volume_caps.{label}: {category!r} is not a category.", field="volume_caps"
                    )
                try:
                    n = as_int(value)
                except (TypeError, ValueError):
                    raise DomainError(
                        f"volume_caps.{label}.{category}: {value!r} is not a whole number.",
                        field="volume_caps",
                    ) from None
                if not 0 <= n <= MAX_VOLUME_CAP:
                    raise DomainError(
                        f"volume_caps.{label}.{category}: must be from 0 to {MAX_VOLUME_CAP:,}.",
                        field="volume_caps",
                    )
                inner[category] = n
            clean_caps[fy.label] = inner
        clean["volume_caps"] = clean_caps
    if "bau" in raw:
        bau = raw["bau"] or {}
        if not isinstance(bau, dict):
            raise DomainError("bau must map categories to rates.", field="bau")
        clean_bau = {}
        for category, rates in bau.items():
            if category not in CATEGORIES:
                raise DomainError(f"bau: {category!r} is not a category.", field="bau")
            if not isinstance(rates, dict) or set(rates) - set(BAU_KEYS):
                raise DomainError(f"bau.{category}: use only {', '.join(BAU_KEYS)}.", field="bau")
            inner = {}
            for key, value in rates.items():
                try:
                    number = _finite_decimal(value)
                except (InvalidOperation, ValueError):
                    raise DomainError(
                        f"bau.{category}.{key}: {value!r} is not a number.", field="bau"
                    ) from None
                low, high = BAU_RANGES[key]
                if not low <= number <= high:
                    raise DomainError(
                        f"bau.{category}.{key}: must be from {low:,} to {high:,}.", field="bau"
                    )
                inner[key] = int(number) if key == "new_starters_per_year" else str(number)
            clean_bau[category] = inner
        clean["bau"] = clean_bau
    return clean


def scenario_save(
    *, name: str, overrides: Any, actor, description: str = "", scenario: Scenario | None = None
) -> Scenario:
    """Create or update a named scenario; overrides are validated first so a bad
    one never replaces a good one."""
    clean = scenario_overrides_clean(overrides)
    with transaction.atomic():
        if scenario is not None:
            scenario = Scenario.objects.select_for_update().get(pk=scenario.pk)
        else:
            scenario = Scenario(created_by=actor)
        scenario.name = name.strip()
        scenario.description = description
        scenario.overrides = clean
        try:
            scenario.full_clean()
        except ValidationError as exc:
            raise_validation(exc)
        scenario.save()
    return scenario
