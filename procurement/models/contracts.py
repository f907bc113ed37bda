"""Suppliers, the contracts we order under and what each award rests on."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from procurement.models.common import NEW_CONTRACT_VALUE_CAP
from procurement.models.envelope import CapitalEnvelope


class Supplier(models.Model):
    """A company we buy devices from."""

    name = models.CharField(max_length=200, unique=True)
    companies_house_number = models.CharField(max_length=16, blank=True)
    contact_email = models.EmailField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(name=""), name="%(app_label)s_%(class)s_name_not_blank"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Contract(models.Model):
    """A contract we can order under.

    Route: a call-off from an existing framework or contract (compliant when its
    ordering process was followed: "The use of a compliantly procured Framework
    Agreement will constitute a compliant process where the Framework Agreement's
    ordering process are followed") or a new contract awarded under the envelope's
    delegation (at most £25m in total and 4 years each).
    ``value_ceiling`` is OFFICIAL-SENSITIVE [COMMERCIAL].
    """

    class Route(models.TextChoices):
        CALL_OFF = "call_off", "Call-off from an existing framework or contract"
        NEW_CONTRACT = "new_contract", "New contract"

    envelope = models.ForeignKey(
        CapitalEnvelope, on_delete=models.PROTECT, related_name="contracts"
    )
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="contracts")
    reference = models.CharField(max_length=64, unique=True)
    title = models.CharField(max_length=300)
    route = models.CharField(max_length=16, choices=Route.choices)
    framework_name = models.CharField(max_length=300, blank=True)
    framework_reference = models.CharField(max_length=100, blank=True)
    ordering_process_followed = models.BooleanField(
        "framework ordering process followed", default=False
    )
    # A call-off may not exceed its framework's ceiling or outlast it: the two
    # figures of the framework the call-off is compared with (call-offs only).
    framework_ceiling = models.DecimalField(
        "framework ceiling", max_digits=16, decimal_places=2, null=True, blank=True
    )
    framework_end_date = models.DateField("framework ends on", null=True, blank=True)
    value_ceiling = models.DecimalField(max_digits=14, decimal_places=2)
    start_date = models.DateField()
    end_date = models.DateField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["reference"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__gte=models.F("start_date")),
                name="%(app_label)s_%(class)s_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(value_ceiling__gt=0),
                name="%(app_label)s_%(class)s_ceiling_positive",
            ),
            models.CheckConstraint(
                condition=Q(route="new_contract") | ~Q(framework_name=""),
                name="%(app_label)s_%(class)s_call_off_names_framework",
            ),
            models.CheckConstraint(
                condition=Q(route__in=["call_off", "new_contract"]),
                name="%(app_label)s_%(class)s_route_known",
            ),
            # The Commercial Director's delegation: a new contract is at most £25m.
            # (Its term, at most 48 months, is a PostgreSQL CHECK added by migration
            # 0003: month arithmetic is not portable SQL.)
            models.CheckConstraint(
                condition=Q(route="call_off") | Q(value_ceiling__lte=NEW_CONTRACT_VALUE_CAP),
                name="%(app_label)s_%(class)s_new_contract_value_within_delegation",
            ),
            # A call-off never exceeds its framework's ceiling nor ends after it.
            models.CheckConstraint(
                condition=Q(route="new_contract")
                | Q(
                    framework_ceiling__isnull=False,
                    value_ceiling__lte=models.F("framework_ceiling"),
                ),
                name="%(app_label)s_%(class)s_call_off_within_framework_ceiling",
            ),
            models.CheckConstraint(
                condition=Q(route="new_contract")
                | Q(framework_end_date__isnull=False, end_date__lte=models.F("framework_end_date")),
                name="%(app_label)s_%(class)s_call_off_ends_with_framework",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    @property
    def is_compliant_route(self) -> bool:
        if self.route == self.Route.NEW_CONTRACT:
            return True
        return bool(self.framework_name) and self.ordering_process_followed

    def in_force_on(self, day: dt.date) -> bool:
        return self.start_date <= day <= self.end_date

    @property
    def is_awarded(self) -> bool:
        """Whether the award is recorded (``ContractAward``): only then may it take orders."""
        try:
            return self.award is not None
        except ContractAward.DoesNotExist:
            return False


class ContractAward(models.Model):
    """What the award of a contract rests on, recorded before it may take orders
    (append-only: a mistake is corrected by the people who made the decision, not
    by editing this row).

    From the business case's Legal Comments: awards at or above the procurement
    regulations threshold follow a compliant route (a compliantly procured framework
    is compliant when its ordering process is followed); the Director of Strategic
    Procurement consents to contract awards; and the DMPC may call in any proposal to
    award a contract of £500,000 or above, so at that value the DMPC is notified and
    the outcome recorded (called in or not; if called in, the DMPC's decision).
    """

    contract = models.OneToOneField(Contract, on_delete=models.PROTECT, related_name="award")
    compliant_route = models.CharField(
        "compliant procurement route",
        max_length=300,
        help_text="How the award was procured, e.g. the framework and its ordering process.",
    )
    dsp_consent_reference = models.CharField(
        "Director of Strategic Procurement's consent (reference)", max_length=100
    )
    dsp_consent_on = models.DateField("consent given on")
    awarded_on = models.DateField()
    dmpc_notified_on = models.DateField("DMPC notified on", null=True, blank=True)
    dmpc_called_in = models.BooleanField("DMPC called it in", null=True, blank=True)
    dmpc_decision_reference = models.CharField(
        "DMPC decision (reference)", max_length=100, blank=True
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["-awarded_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(compliant_route=""),
                name="%(app_label)s_%(class)s_route_not_blank",
            ),
            models.CheckConstraint(
                condition=~Q(dsp_consent_reference=""),
                name="%(app_label)s_%(class)s_consent_not_blank",
            ),
            # An outcome of the call-in right presupposes the DMPC was told.
            models.CheckConstraint(
                condition=Q(dmpc_called_in__isnull=True) | Q(dmpc_notified_on__isnull=False),
                name="%(app_label)s_%(class)s_outcome_needs_notice",
            ),
            # Called in: the DMPC's decision is what the award rests on.
            models.CheckConstraint(
                condition=~Q(dmpc_called_in=True) | ~Q(dmpc_decision_reference=""),
                name="%(app_label)s_%(class)s_call_in_needs_decision",
            ),
        ]

    def __str__(self) -> str:
        return f"Award of {self.contract.reference} on {self.awarded_on}"
