"""Procurement against the capital envelope.

The business case asks for £46.763m of capital over FY 2025/26 and 2026/27
(recommendation "Approve capital spend"), delegates the management of that spend
to a finance owner, lets the Commercial Director award new contracts up to £25m
and 4 years, and names two thresholds: the procurement regulations (£213,477
incl. VAT) and the Deputy Mayor's approval / call-in (£500,000). These models
hold those numbers as data (with effective dates where they change) and the
orders placed against them.

Money: every amount is a Decimal in pounds with two places. Purchase-order lines
are priced net; VAT is worked out per line and rounded to the penny with
ROUND_HALF_UP (see ``PurchaseOrderLine.compute_totals``); the envelope, the
thresholds and every commitment are measured in *gross* (incl. VAT) pounds, as
the business case states the regulations threshold incl. VAT.

Scope: a purchase order belongs to the business unit its devices are for; its
lines, approval records, receipts and received devices reach that unit through
the order (each model's ``objects.visible_to(user)``). The envelope, budget lines,
transfers, thresholds, approval authorities, contracts and suppliers are the
organisation's, not any unit's, and are not unit-scoped.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from accounts.roles import Role
from accounts.scoping import scoped_manager
from core.financial_year import FinancialYear
from devices.models import Category

PENNY = Decimal("0.01")
# The Commercial Director's delegation in the business case: new contracts up to
# £25m total value and a 4-year term. An envelope may set tighter limits (its
# ``new_contract_limit`` / ``new_contract_max_term_months``), never looser ones; the
# database CHECK constraints below hold these ceilings whatever the door.
NEW_CONTRACT_VALUE_CAP = Decimal("25000000.00")
NEW_CONTRACT_TERM_CAP_MONTHS = 48
ROLE_CHOICES = [(role.value, role.value) for role in Role]


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


class PurchaseOrder(models.Model):
    """An order for devices against one budget line.

    Its status moves only through ``procurement.services`` (``ALLOWED_TRANSITIONS``
    below). ``committed_total`` is what the order holds against its line and the
    envelope: its gross total from approval, the value actually received once
    closed, nothing once cancelled. Totals are OFFICIAL-SENSITIVE [COMMERCIAL].
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted"
        APPROVED = "approved", "Approved"
        ORDERED = "ordered", "Ordered"
        PARTLY_RECEIVED = "partly_received", "Partly received"
        RECEIVED = "received", "Received"
        CLOSED = "closed", "Closed"
        CANCELLED = "cancelled", "Cancelled"

    reference = models.CharField(max_length=32, unique=True, null=True, blank=True)
    budget_line = models.ForeignKey(
        BudgetLine, on_delete=models.PROTECT, related_name="purchase_orders"
    )
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="purchase_orders")
    contract = models.ForeignKey(
        Contract, null=True, blank=True, on_delete=models.PROTECT, related_name="purchase_orders"
    )
    business_unit = models.ForeignKey(
        "accounts.BusinessUnit",
        on_delete=models.PROTECT,
        related_name="purchase_orders",
        help_text="The unit the devices are for; received devices go into its stock.",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    description = models.CharField(max_length=500, blank=True)
    net_total = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    vat_total = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    gross_total = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    committed_total = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    # Bumped when a draft's lines are replaced: approval records speak for the
    # revision they were recorded on (they are append-only, so never deleted).
    revision = models.PositiveIntegerField(default=1)
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="purchase_orders_raised"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="purchase_orders_approved",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_on = models.DateField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    ordered_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    objects = scoped_manager("business_unit")

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(gross_total=models.F("net_total") + models.F("vat_total")),
                name="%(app_label)s_%(class)s_gross_is_net_plus_vat",
            ),
            models.CheckConstraint(
                condition=Q(committed_total__gte=0),
                name="%(app_label)s_%(class)s_committed_not_negative",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "budget_line"], name="procurement_po_status_line"),
        ]

    def __str__(self) -> str:
        return self.reference or f"Draft order {self.pk}"


# The purchase-order status machine, in one place. Anything not listed is refused.
P = PurchaseOrder.Status
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    P.DRAFT: frozenset({P.SUBMITTED, P.CANCELLED}),
    # A submitted order can go back to draft for changes, or be approved.
    P.SUBMITTED: frozenset({P.DRAFT, P.APPROVED, P.CANCELLED}),
    P.APPROVED: frozenset({P.ORDERED, P.CANCELLED}),
    P.ORDERED: frozenset({P.PARTLY_RECEIVED, P.RECEIVED, P.CANCELLED}),
    # Closing a partly received order short releases what was never delivered.
    P.PARTLY_RECEIVED: frozenset({P.RECEIVED, P.CLOSED}),
    P.RECEIVED: frozenset({P.CLOSED}),
    P.CLOSED: frozenset(),
    P.CANCELLED: frozenset(),
}
# The statuses whose orders hold money against the envelope.
COMMITTED_STATUSES = frozenset({P.APPROVED, P.ORDERED, P.PARTLY_RECEIVED, P.RECEIVED, P.CLOSED})
del P


class PurchaseOrderLine(models.Model):
    """A device model, a quantity and a net unit price with its VAT rate.

    Totals (kept on the row by the service): net = quantity × unit price (exact);
    VAT = net × rate rounded to the penny, half up, once per line; gross = net +
    VAT. The purchase cost of each device received is the unit price incl. VAT
    rounded to the penny (``unit_gross``), since the envelope is spent gross.
    """

    purchase_order = models.ForeignKey(
        PurchaseOrder, on_delete=models.PROTECT, related_name="lines"
    )
    device_model = models.ForeignKey(
        "devices.DeviceModel", on_delete=models.PROTECT, related_name="purchase_order_lines"
    )
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField("unit price (net)", max_digits=12, decimal_places=2)
    vat_rate = models.DecimalField(max_digits=5, decimal_places=4, default=Decimal("0.2000"))
    net_total = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    vat_total = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    gross_total = models.DecimalField(max_digits=14, decimal_places=2, default=0)

    objects = scoped_manager("purchase_order__business_unit")

    class Meta:
        ordering = ["purchase_order", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gte=1), name="%(app_label)s_%(class)s_quantity_positive"
            ),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0),
                name="%(app_label)s_%(class)s_unit_price_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(vat_rate__gte=0) & Q(vat_rate__lte=1),
                name="%(app_label)s_%(class)s_vat_rate_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.device_model}"

    def compute_totals(self) -> None:
        self.net_total = money(self.unit_price * self.quantity)
        self.vat_total = money(self.net_total * self.vat_rate)
        self.gross_total = self.net_total + self.vat_total

    @property
    def unit_gross(self) -> Decimal:
        return money(self.unit_price * (1 + self.vat_rate))


class ApprovalRecord(models.Model):
    """An approval that must exist before an order proceeds (append-only).

    It speaks for the order's ``revision`` it was recorded on; replacing a draft's
    lines starts a new revision, so old records no longer count.

    ``compliant_route``: commercial confirmation that the award follows a compliant
    route (needed at or above the procurement-regulations threshold).
    ``dmpc``: "DMPC approval / no call-in" (needed at or above £500,000).
    """

    class Kind(models.TextChoices):
        COMPLIANT_ROUTE = "compliant_route", "Compliant procurement route confirmed"
        DMPC = "dmpc", "DMPC approval / no call-in"

    purchase_order = models.ForeignKey(
        PurchaseOrder, on_delete=models.PROTECT, related_name="approval_records"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    order_revision = models.PositiveIntegerField(default=1)
    reference = models.CharField(max_length=100)
    note = models.CharField(max_length=500, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField()

    objects = scoped_manager("purchase_order__business_unit")

    class Meta:
        ordering = ["purchase_order", "kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["purchase_order", "kind", "order_revision"],
                name="%(app_label)s_%(class)s_unique_kind_revision",
            ),
            models.CheckConstraint(
                condition=~Q(reference=""), name="%(app_label)s_%(class)s_reference_not_blank"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.reference}"


class Receipt(models.Model):
    """Goods received against one purchase-order line on a day.

    ``value`` is what the receipt spends from the commitment: quantity × unit
    gross, except the receipt completing the line, which takes the line's gross
    total less what was already received, so a fully received line equals its
    committed gross to the penny.
    """

    line = models.ForeignKey(PurchaseOrderLine, on_delete=models.PROTECT, related_name="receipts")
    quantity = models.PositiveIntegerField()
    value = models.DecimalField(max_digits=14, decimal_places=2)
    received_on = models.DateField()
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField()

    objects = scoped_manager("line__purchase_order__business_unit")

    class Meta:
        ordering = ["line", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gte=1), name="%(app_label)s_%(class)s_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} received on {self.received_on}"


class ReceivedDevice(models.Model):
    """The link from a device created by a receipt to its order line."""

    receipt = models.ForeignKey(Receipt, on_delete=models.PROTECT, related_name="devices")
    line = models.ForeignKey(
        PurchaseOrderLine, on_delete=models.PROTECT, related_name="received_devices"
    )
    device = models.OneToOneField(
        "devices.Device", on_delete=models.PROTECT, related_name="procurement_receipt"
    )

    # The order's unit: the device went into its stock on receipt, wherever it is now.
    objects = scoped_manager("line__purchase_order__business_unit")

    class Meta:
        ordering = ["receipt", "id"]

    def __str__(self) -> str:
        return f"{self.device_id} via line {self.line_id}"
