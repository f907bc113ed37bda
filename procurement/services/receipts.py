"""Receiving goods against an order line: serial numbers in, devices into the
ordering unit's stock, the receipt's value spent from the order's commitment."""

from __future__ import annotations

import csv
import datetime as dt
import io

from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone

from core.errors import DomainError
from devices.services import devices_receive_into_stock
from procurement.models import (
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    ReceivedDevice,
    money,
)
from procurement.services.common import ZERO, add_months, london_today
from procurement.services.orders import _set_status


def serials_from_text(text: str) -> list[str]:
    """Serial numbers pasted one per line (blank lines ignored)."""
    return [s.strip() for s in (text or "").splitlines() if s.strip()]


def serials_from_upload(data: bytes) -> list[str]:
    """Serial numbers from an uploaded CSV or TXT: the first column of each row; a
    first row reading "serial..." is a header and skipped."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    rows = [row for row in csv.reader(io.StringIO(text)) if row and row[0].strip()]
    serials = [row[0].strip() for row in rows]
    if serials and serials[0].lower().startswith("serial"):
        serials = serials[1:]
    return serials


def purchase_order_receive(
    *,
    line: PurchaseOrderLine,
    serial_numbers: list[str],
    received_by,
    received_on: dt.date | None = None,
    warranty_years: int = 3,
) -> Receipt:
    """Receive devices against an order line: each serial becomes a device in the
    unit's stock, costed at the line's unit price incl. VAT, linked to the line.

    Receiving more than ordered is refused (the line is locked so two receipts at
    once cannot both fit). The order moves to partly received or received.
    """
    received_on = received_on or london_today()
    if received_on > london_today():
        raise DomainError("Goods cannot be received on a future date.", field="received_on")
    serials = [s.strip() for s in serial_numbers if s and s.strip()]
    if not serials:
        raise DomainError("Give at least one serial number.", field="serial_numbers")
    with transaction.atomic():
        # Order row then its line, the house lock order (no envelope change here:
        # receipts spend an existing commitment, they never add to it).
        order = PurchaseOrder.objects.select_for_update().get(pk=line.purchase_order_id)
        locked = (
            PurchaseOrderLine.objects.select_for_update()
            .select_related("device_model")
            .get(pk=line.pk)
        )
        if order.status not in (PurchaseOrder.Status.ORDERED, PurchaseOrder.Status.PARTLY_RECEIVED):
            raise DomainError(
                f"{order} is {order.get_status_display().lower()}: only ordered goods can be "
                "received.",
                field="status",
            )
        already = locked.receipts.aggregate(n=Sum("quantity"), v=Sum("value"))
        already_qty, already_value = already["n"] or 0, already["v"] or ZERO
        outstanding = locked.quantity - already_qty
        if len(serials) > outstanding:
            raise DomainError(
                f"Line {locked.device_model} has {outstanding} of {locked.quantity} still to "
                f"receive; {len(serials)} serial numbers would receive "
                f"{len(serials) - outstanding} more than ordered.",
                field="serial_numbers",
                code="over_receipt",
            )
        completes = len(serials) == outstanding
        # The receipt completing a line takes the rest of the line's gross, so the
        # pennies lost to per-unit rounding are not lost from the actuals.
        value = (
            locked.gross_total - already_value if completes else locked.unit_gross * len(serials)
        )
        devices = devices_receive_into_stock(
            device_model=locked.device_model,
            business_unit=order.business_unit,
            serial_numbers=serials,
            purchase_cost=locked.unit_gross,
            purchase_date=received_on,
            warranty_expires=add_months(received_on, 12 * warranty_years),
            actor=received_by,
            source=f"procurement:{order.reference}",
            details={"purchase_order": order.reference, "purchase_order_line": locked.pk},
        )
        receipt = Receipt(
            line=locked,
            quantity=len(serials),
            value=money(value),
            received_on=received_on,
            received_by=received_by,
            recorded_at=timezone.now(),
        )
        receipt.full_clean()
        receipt.save()
        ReceivedDevice.objects.bulk_create(
            ReceivedDevice(receipt=receipt, line=locked, device=device) for device in devices
        )
        # Is the whole order in? One aggregate over its lines.
        totals = order.lines.aggregate(ordered=Sum("quantity"), lines=Count("id", distinct=True))
        received_qty = (
            Receipt.objects.filter(line__purchase_order=order).aggregate(n=Sum("quantity"))["n"]
            or 0
        )
        target = (
            PurchaseOrder.Status.RECEIVED
            if received_qty >= totals["ordered"]
            else PurchaseOrder.Status.PARTLY_RECEIVED
        )
        if target != order.status:
            _set_status(order=order, to_status=target)
            order.save(update_fields=["status"])
    line.purchase_order.status = order.status
    return receipt
