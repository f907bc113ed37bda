"""What the procurement models share: pennies, the Commercial Director's delegation,
the roles an authority names, the financial-year label and the envelope's scope."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError

from accounts.roles import Role
from core.financial_year import FinancialYear
from devices.models import Category

PENNY = Decimal("0.01")
# The Commercial Director's delegation in the business case: new contracts up to
# £25m total value and a 4-year term. An envelope may set tighter limits (its
# ``new_contract_limit`` / ``new_contract_max_term_months``), never looser ones; the
# database CHECK constraints hold these ceilings whatever the door.
NEW_CONTRACT_VALUE_CAP = Decimal("25000000.00")
NEW_CONTRACT_TERM_CAP_MONTHS = 48
ROLE_CHOICES = [(role.value, role.value) for role in Role]

# The business case's scope: capital "to replace end user laptops, desktops, monitors
# and smartphones". Tablets are a legacy category outside it: their demand is shown
# apart and never counted against the envelope. Each envelope keeps its own list
# (``CapitalEnvelope.funded_categories``); this is the default a new one starts with.
PAPER_FUNDED_CATEGORIES = (
    Category.LAPTOP.value,
    Category.DESKTOP.value,
    Category.MONITOR.value,
    Category.SMARTPHONE.value,
)


def default_funded_categories() -> list[str]:
    return list(PAPER_FUNDED_CATEGORIES)


def money(value: Decimal) -> Decimal:
    """Round to the penny, half up (the rule for VAT and unit gross prices)."""
    return Decimal(value).quantize(PENNY, rounding=ROUND_HALF_UP)


def validate_financial_year_label(value: str) -> None:
    try:
        parsed = FinancialYear.parse(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc
    if parsed.label != value:
        raise ValidationError(f"Write the financial year as {parsed.label}.")


def validate_funded_categories(value) -> None:
    """A non-empty list of distinct device categories."""
    known = {choice.value for choice in Category}
    if not isinstance(value, list) or not value:
        raise ValidationError("Name at least one category the envelope funds.")
    unknown = [item for item in value if item not in known]
    if unknown:
        raise ValidationError(
            f"Not a device category: {', '.join(map(str, unknown))}. "
            f"Choose from {', '.join(sorted(known))}."
        )
    if len(set(value)) != len(value):
        raise ValidationError("Name each funded category once.")
