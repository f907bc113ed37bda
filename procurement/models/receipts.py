"""Goods received against order lines, and the devices they became."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.scoping import scoped_manager
from procurement.models.orders import PurchaseOrderLine


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
