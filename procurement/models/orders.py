"""Purchase orders, their lines, their status machine and their approval records."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from accounts.scoping import scoped_manager
from procurement.models.common import money
from procurement.models.contracts import Contract, Supplier
from procurement.models.envelope import BudgetLine


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
    # Why it last went back to draft, and why it was cancelled: asked of whoever does
    # it (the order's history keeps every earlier return).
    returned_reason = models.CharField("why it went back to draft", max_length=500, blank=True)
    returned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    returned_at = models.DateTimeField(null=True, blank=True)
    cancellation_reason = models.CharField("why it was cancelled", max_length=500, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
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
            # A cancelled order says why, whatever the door.
            models.CheckConstraint(
                condition=~Q(status="cancelled") | ~Q(cancellation_reason=""),
                name="%(app_label)s_%(class)s_cancelled_has_reason",
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
