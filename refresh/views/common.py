"""What the refresh pages share: the planning roles, form errors, the years asked for."""

from __future__ import annotations

from accounts.roles import Role
from core.errors import DomainError
from core.financial_year import FinancialYear
from refresh import selectors

PLANNERS = (Role.ASSET_MANAGER, Role.FINANCE)


def form_error(form, exc: DomainError):
    """Show a service's refusal on the field it names, else on the whole form."""
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def years_from(request) -> list[FinancialYear]:
    """Five financial years from the ``from`` parameter (default: from this year)."""
    try:
        first = selectors.financial_year_in_range(request.GET.get("from", ""))
    except ValueError:
        return selectors.default_financial_years()
    return [FinancialYear(first.start_year + i) for i in range(5)]
