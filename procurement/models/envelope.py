"""The capital envelope, its budget lines and the transfers between them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from accounts.roles import Role
from devices.models import Category
from procurement.models.common import (
    NEW_CONTRACT_TERM_CAP_MONTHS,
    NEW_CONTRACT_VALUE_CAP,
    ROLE_CHOICES,
    default_funded_categories,
    validate_financial_year_label,
    validate_funded_categories,
)


class CapitalEnvelope(models.Model):
    """The approved capital total and who manages it.

    The business case delegates authority "to Director Applications, End User and
    Radio Services to manage the Capital spend": ``owner`` is that person and
    ``owner_role`` the role whose holders act for them (finance by default).
    ``new_contract_limit`` and ``new_contract_max_term_months`` are the Commercial
    Director's delegation (£25m, 4 years), kept as data.
    """

    name = models.CharField(max_length=200)
    total = models.DecimalField(max_digits=14, decimal_places=2)
    decision_reference = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="capital_envelopes",
    )
    owner_role = models.CharField(max_length=64, choices=ROLE_CHOICES, default=Role.FINANCE.value)
    new_contract_limit = models.DecimalField(
        "new contracts may total at most", max_digits=14, decimal_places=2, default=25_000_000
    )
    new_contract_max_term_months = models.PositiveSmallIntegerField(
        "new contracts may last at most (months)", default=48
    )
    # The categories the envelope pays for (the paper: laptops, desktops, monitors and
    # smartphones). Demand of any other category is shown apart and never counted
    # against it; a budget line may only be for a funded category.
    funded_categories = models.JSONField(
        default=default_funded_categories, validators=[validate_funded_categories]
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(total__gte=0), name="%(app_label)s_%(class)s_total_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(new_contract_limit__gte=0),
                name="%(app_label)s_%(class)s_contract_limit_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(new_contract_limit__lte=NEW_CONTRACT_VALUE_CAP),
                name="%(app_label)s_%(class)s_contract_limit_within_delegation",
            ),
            models.CheckConstraint(
                condition=Q(new_contract_max_term_months__lte=NEW_CONTRACT_TERM_CAP_MONTHS),
                name="%(app_label)s_%(class)s_contract_term_within_delegation",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.decision_reference})"


class BudgetLine(models.Model):
    """The part of the envelope for one financial year and category.

    The lines of an envelope never add up to more than its total
    (``procurement.services.budget_line_create`` and ``budget_transfer_make``).
    """

    envelope = models.ForeignKey(
        CapitalEnvelope, on_delete=models.PROTECT, related_name="budget_lines"
    )
    financial_year = models.CharField(max_length=7, validators=[validate_financial_year_label])
    category = models.CharField(max_length=16, choices=Category.choices)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    history = HistoricalRecords()

    class Meta:
        ordering = ["envelope", "financial_year", "category"]
        constraints = [
            models.UniqueConstraint(
                fields=["envelope", "financial_year", "category"],
                name="%(app_label)s_%(class)s_unique_year_category",
            ),
            models.CheckConstraint(
                condition=Q(amount__gte=0), name="%(app_label)s_%(class)s_amount_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.financial_year} {self.category} line"


class BudgetTransfer(models.Model):
    """A recorded move of money from one budget line to another (append-only)."""

    envelope = models.ForeignKey(
        CapitalEnvelope, on_delete=models.PROTECT, related_name="transfers"
    )
    from_line = models.ForeignKey(
        BudgetLine, on_delete=models.PROTECT, related_name="transfers_out"
    )
    to_line = models.ForeignKey(BudgetLine, on_delete=models.PROTECT, related_name="transfers_in")
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    reason = models.CharField(max_length=500)
    made_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="budget_transfers"
    )
    made_at = models.DateTimeField()

    class Meta:
        ordering = ["-made_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="%(app_label)s_%(class)s_amount_positive"
            ),
            models.CheckConstraint(
                condition=~Q(from_line=models.F("to_line")),
                name="%(app_label)s_%(class)s_different_lines",
            ),
            models.CheckConstraint(
                condition=~Q(reason=""), name="%(app_label)s_%(class)s_reason_not_blank"
            ),
        ]

    def __str__(self) -> str:
        return f"£{self.amount} {self.from_line} → {self.to_line}"
