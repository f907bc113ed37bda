"""Receiving goods: devices created in stock with their serials, cost, link to the
order line and a 'received' event; partly or wholly; over-receipt refused."""

import datetime as dt
from decimal import Decimal

import pytest

from accounts.roles import Role
from core.errors import DomainError
from devices.models import Device, DeviceEvent
from procurement import services
from procurement.models import (
    ApprovalRecord,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    ReceivedDevice,
)
from tests.factories import BusinessUnitFactory, DeviceFactory, UserFactory
from tests.procurement.conftest import approve_on

S = PurchaseOrder.Status
pytestmark = pytest.mark.usefixtures("thresholds", "authorities")


@pytest.fixture
def ordered(laptop_line, supplier, unit, laptop_model, raiser, commercial_officer):
    """An ordered PO: one line of 3 laptops at £899.99 net + 20% VAT."""
    order = services.purchase_order_create(
        budget_line=laptop_line,
        supplier=supplier,
        business_unit=unit,
        raised_by=raiser,
        lines=[
            {
                "device_model": laptop_model,
                "quantity": 3,
                "unit_price": Decimal("899.99"),
                "vat_rate": Decimal("0.2"),
            }
        ],
    )
    services.purchase_order_submit(purchase_order=order, actor=raiser)
    approve_on(order, commercial_officer, dt.date(2025, 6, 2))
    services.purchase_order_mark_ordered(purchase_order=order, actor=commercial_officer)
    return order


def test_partial_receipt_creates_exactly_those_devices_in_stock(ordered, unit, asset_manager):
    line = ordered.lines.get()

    receipt = services.purchase_order_receive(
        line=line,
        serial_numbers=["ABC001", "ABC002"],
        received_by=asset_manager,
        received_on=dt.date(2025, 7, 1),
    )

    devices = Device.objects.filter(procurement_receipt__line=line).order_by("serial_number")
    assert [d.serial_number for d in devices] == ["ABC001", "ABC002"]
    for device in devices:
        assert device.status == Device.Status.IN_STOCK
        assert device.business_unit == unit
        assert device.device_model_id == line.device_model_id
        # £899.99 × 1.2 = £1,079.988 → £1,079.99 per unit, incl. VAT
        assert device.purchase_cost == Decimal("1079.99")
        assert device.purchase_date == dt.date(2025, 7, 1)
        assert device.procurement_receipt.receipt == receipt
    events = DeviceEvent.objects.filter(device__in=devices, kind=DeviceEvent.Kind.RECEIVED)
    assert events.count() == 2
    assert {e.details["purchase_order"] for e in events} == {ordered.reference}
    assert PurchaseOrder.objects.get(pk=ordered.pk).status == S.PARTLY_RECEIVED
    assert receipt.value == Decimal("2159.98")


def test_final_receipt_marks_received_and_actuals_equal_the_line_gross(ordered, asset_manager):
    line = ordered.lines.get()
    services.purchase_order_receive(
        line=line, serial_numbers=["A1", "A2"], received_by=asset_manager
    )

    services.purchase_order_receive(line=line, serial_numbers=["A3"], received_by=asset_manager)

    assert PurchaseOrder.objects.get(pk=ordered.pk).status == S.RECEIVED
    # Line gross: net 2,699.97 + VAT 539.994→539.99 = 3,239.96; per-unit 1,079.99 × 3
    # would be 3,239.97, so the completing receipt takes the remainder.
    total = sum(r.value for r in Receipt.objects.filter(line=line))
    assert total == line.gross_total == Decimal("3239.96")
    assert ReceivedDevice.objects.filter(line=line).count() == 3


def test_over_receipt_refused_and_nothing_created(ordered, asset_manager):
    line = ordered.lines.get()
    services.purchase_order_receive(line=line, serial_numbers=["A1"], received_by=asset_manager)

    with pytest.raises(
        DomainError,
        match="2 of 3 still to receive; 3 serial numbers would receive 1 more than ordered",
    ):
        services.purchase_order_receive(
            line=line, serial_numbers=["B1", "B2", "B3"], received_by=asset_manager
        )
    assert Device.objects.filter(serial_number__startswith="B").count() == 0
    assert Receipt.objects.count() == 1


def test_receipt_with_a_serial_already_in_the_estate_is_refused_whole(
    ordered, asset_manager, laptop_model
):
    DeviceFactory(serial_number="DUP1", device_model=laptop_model)
    line = ordered.lines.get()

    with pytest.raises(DomainError, match="DUP1"):
        services.purchase_order_receive(
            line=line, serial_numbers=["NEW1", "DUP1"], received_by=asset_manager
        )
    assert not Device.objects.filter(serial_number="NEW1").exists()
    assert not Receipt.objects.exists()
    assert PurchaseOrder.objects.get(pk=ordered.pk).status == S.ORDERED


def test_goods_cannot_be_received_before_the_order_is_placed(make_order, asset_manager):
    order = make_order("100.00")

    with pytest.raises(DomainError, match="only ordered goods can be received"):
        services.purchase_order_receive(
            line=order.lines.get(), serial_numbers=["X"], received_by=asset_manager
        )


def test_closing_a_partly_received_order_releases_the_undelivered_commitment(
    ordered, asset_manager, laptop_line
):
    line = ordered.lines.get()
    services.purchase_order_receive(line=line, serial_numbers=["A1"], received_by=asset_manager)

    services.purchase_order_close(purchase_order=ordered, actor=asset_manager)

    assert services._committed_on(budget_line_ids=[laptop_line.pk]) == Decimal("1079.99")


def test_serials_read_from_pasted_text_and_uploaded_csv():
    assert services.serials_from_text(" A1 \n\nA2\r\nA3\n") == ["A1", "A2", "A3"]
    data = "\ufeffSerial number,notes\nX1,boxed\nX2,\n\n".encode()
    assert services.serials_from_upload(data) == ["X1", "X2"]
    assert services.serials_from_upload(b"Y1\nY2\n") == ["Y1", "Y2"]


def test_an_orders_rows_are_scoped_through_its_unit(ordered, unit, asset_manager):
    # Given an ordered PO for ``unit`` with a receipt and its devices, and an approval record
    services.purchase_order_receive(
        line=ordered.lines.get(),
        serial_numbers=["SCOPE1"],
        received_by=asset_manager,
        received_on=dt.date(2025, 7, 1),
    )
    ApprovalRecord.objects.create(
        purchase_order=ordered,
        kind=ApprovalRecord.Kind.DMPC,
        reference="DMPC-1",
        recorded_by=asset_manager,
        recorded_at=dt.datetime(2025, 6, 1, tzinfo=dt.UTC),
    )
    inside = UserFactory(role=Role.FINANCE, units=[unit])
    outside = UserFactory(role=Role.FINANCE, units=[BusinessUnitFactory()])
    models = (PurchaseOrder, PurchaseOrderLine, ApprovalRecord, Receipt, ReceivedDevice)
    # Then a user scoped to the unit sees each of them, one scoped elsewhere none
    for model in models:
        assert model.objects.visible_to(inside).count() == 1, model.__name__
        assert model.objects.visible_to(outside).count() == 0, model.__name__
