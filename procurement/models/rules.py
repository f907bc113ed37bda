"""Thresholds and approval authorities: dated rows, the one in force on a day is the
latest that started on or before it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from procurement.models.common import ROLE_CHOICES


class ProcurementThreshold(models.Model):
    """A threshold with the date it takes effect. The one in force on a day is the
    latest ``effective_from`` on or before it (thresholds change over time)."""

    class Kind(models.TextChoices):
        REGULATIONS = "regulations", "Procurement regulations (compliant route needed)"
        DEPUTY_MAYOR = "deputy_mayor", "Deputy Mayor's approval / call-in"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    amount = models.DecimalField("amount incl. VAT", max_digits=14, decimal_places=2)
    effective_from = models.DateField()
    source = models.CharField(max_length=200, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["kind", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "effective_from"], name="%(app_label)s_%(class)s_unique_kind_date"
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="%(app_label)s_%(class)s_amount_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: £{self.amount:,} from {self.effective_from}"


class ApprovalAuthority(models.Model):
    """Who may approve a purchase order of what gross value, from a date.

    The rows in force on a day are, per role, the latest ``effective_from`` on or
    before it. Rows are added, never edited (a change of authority is a new dated
    row). ``limit`` null means no limit, and that is only ever an explicit decision:
    the database refuses an unlimited row without a ``decision_reference``.

    The defaults (``procurement.services.DEFAULT_APPROVAL_AUTHORITIES``, which the
    demo loads) follow the business case's delegations:

    | role                | may approve gross value up to | why                              |
    |---------------------|-------------------------------|----------------------------------|
    | Finance officers    | £213,476.99                   | below the regulations threshold  |
    | Commercial officers | £25,000,000.00                | the Commercial Director's £25m   |
    """

    role = models.CharField(max_length=64, choices=ROLE_CHOICES)
    limit = models.DecimalField(
        "may approve up to (gross)", max_digits=14, decimal_places=2, null=True, blank=True
    )
    effective_from = models.DateField()
    decision_reference = models.CharField(
        max_length=200,
        blank=True,
        help_text="The decision that set this authority; required for an unlimited one.",
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["role", "-effective_from"]
        verbose_name_plural = "approval authorities"
        constraints = [
            models.UniqueConstraint(
                fields=["role", "effective_from"], name="%(app_label)s_%(class)s_unique_role_date"
            ),
            models.CheckConstraint(
                condition=Q(limit__isnull=True) | Q(limit__gte=0),
                name="%(app_label)s_%(class)s_limit_not_negative",
            ),
            # No role is unlimited by default: an unlimited row names its decision.
            models.CheckConstraint(
                condition=Q(limit__isnull=False) | ~Q(decision_reference=""),
                name="%(app_label)s_%(class)s_unlimited_needs_decision",
            ),
        ]

    def __str__(self) -> str:
        limit = "no limit" if self.limit is None else f"£{self.limit:,}"
        return f"{self.role}: {limit} from {self.effective_from}"
