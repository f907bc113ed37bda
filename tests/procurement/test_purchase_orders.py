"""Purchase-order totals (exact Decimal, VAT rounded per line half up) and the
status machine: every allowed move and refused ones."""

import datetime as dt
from decimal import Decimal

import pytest

from core.errors import DomainError
from procurement import services
from procurement.models import ALLOWED_TRANSITIONS, PurchaseOrder
from tests.factories import DeviceModelFactory
from tests.procurement.conftest import approve_on

S = PurchaseOrder.Status
APPROVAL_DAY = dt.date(2025, 6, 2)


def test_totals_round_vat_per_line_half_up(laptop_line, supplier, unit, laptop_model, raiser):
    # 3 × £0.05 net at 20% = £0.15 net, VAT £0.03 exactly; 1 × £0.025? not a price.
    # A line of 1 × £10.125 is not pennies, so use 7 × £1.19 at 17.5%:
    # net £8.33, VAT 1.457750 -> £1.46 (half up), gross £9.79.
    order = services.purchase_order_create(
        budget_line=laptop_line,
        supplier=supplier,
        business_unit=unit,
        raised_by=raiser,
        lines=[
            {
                "device_model": laptop_model,
                "quantity": 7,
                "unit_price": Decimal("1.19"),
                "vat_rate": Decimal("0.175"),
            },
            {
                "device_model": laptop_model,
                "quantity": 1,
                "unit_price": Decimal("0.25"),
                "vat_rate": Decimal("0.2"),
            },
        ],
    )

    lines = list(order.lines.order_by("id"))
    assert (lines[0].net_total, lines[0].vat_total, lines[0].gross_total) == (
        Decimal("8.33"),
        Decimal("1.46"),
        Decimal("9.79"),
    )
    # 0.25 × 0.2 = 0.05 exactly
    assert lines[1].vat_total == Decimal("0.05")
    order.refresh_from_db()
    assert order.net_total == Decimal("8.58")
    assert order.vat_total == Decimal("1.51")
    assert order.gross_total == Decimal("10.09")
    assert order.reference == f"PO-{order.pk:06d}"


def test_half_penny_of_vat_rounds_up(laptop_line, supplier, unit, laptop_model, raiser):
    # £0.05 at 5% VAT = £0.0025 -> £0.00; £0.10 at 5% = £0.005 -> £0.01 (half up)
    order = services.purchase_order_create(
        budget_line=laptop_line,
        supplier=supplier,
        business_unit=unit,
        raised_by=raiser,
        lines=[
            {
                "device_model": laptop_model,
                "quantity": 1,
                "unit_price": Decimal("0.10"),
                "vat_rate": Decimal("0.05"),
            }
        ],
    )
    assert order.vat_total == Decimal("0.01")


def test_order_line_refused_for_a_model_outside_the_budget_line_category(
    laptop_line, supplier, unit, raiser
):
    phone = DeviceModelFactory(name="Galaxy", category="smartphone")

    with pytest.raises(DomainError, match="Line 1: .* is a smartphone"):
        services.purchase_order_create(
            budget_line=laptop_line,
            supplier=supplier,
            business_unit=unit,
            raised_by=raiser,
            lines=[{"device_model": phone, "quantity": 1, "unit_price": Decimal("1")}],
        )
    assert not PurchaseOrder.objects.exists()


def test_status_machine_allows_only_the_listed_moves():
    assert ALLOWED_TRANSITIONS[S.DRAFT] == {S.SUBMITTED, S.CANCELLED}
    assert ALLOWED_TRANSITIONS[S.CLOSED] == frozenset()
    assert ALLOWED_TRANSITIONS[S.CANCELLED] == frozenset()
    assert set(ALLOWED_TRANSITIONS) == set(S.values)


def test_order_moves_draft_submitted_approved_ordered(
    make_order, commercial_officer, raiser, thresholds, authorities
):
    order = make_order("100.00", submit=False)
    assert order.status == S.DRAFT

    services.purchase_order_submit(purchase_order=order, actor=raiser)
    approve_on(order, commercial_officer, APPROVAL_DAY)
    services.purchase_order_mark_ordered(purchase_order=order, actor=commercial_officer)

    assert PurchaseOrder.objects.get(pk=order.pk).status == S.ORDERED


def test_draft_cannot_be_approved(make_order, commercial_officer, thresholds, authorities):
    order = make_order("100.00", submit=False)

    with pytest.raises(DomainError, match="cannot move from Draft to Approved"):
        approve_on(order, commercial_officer, APPROVAL_DAY)


def test_approved_order_cannot_be_approved_twice(
    make_order, commercial_officer, thresholds, authorities
):
    order = make_order("100.00")
    approve_on(order, commercial_officer, APPROVAL_DAY)

    with pytest.raises(DomainError, match="cannot move from Approved to Approved"):
        approve_on(order, commercial_officer, APPROVAL_DAY)


def test_submitted_order_cannot_be_marked_ordered(make_order, raiser):
    order = make_order("100.00")

    with pytest.raises(DomainError, match="cannot move from Submitted to Ordered"):
        services.purchase_order_mark_ordered(purchase_order=order, actor=raiser)


def test_submitted_order_can_go_back_to_draft(make_order, raiser):
    order = make_order("100.00")

    services.purchase_order_return_to_draft(
        purchase_order=order, actor=raiser, reason="Wrong model"
    )

    assert PurchaseOrder.objects.get(pk=order.pk).status == S.DRAFT


def test_cancelled_order_cannot_be_submitted(make_order, raiser):
    order = make_order("100.00", submit=False)
    services.purchase_order_cancel(purchase_order=order, actor=raiser, reason="Not needed")

    with pytest.raises(DomainError, match="cannot move from Cancelled to Submitted"):
        services.purchase_order_submit(purchase_order=order, actor=raiser)


def test_draft_cannot_be_closed(make_order, raiser):
    order = make_order("100.00", submit=False)

    with pytest.raises(DomainError, match="cannot move from Draft to Closed"):
        services.purchase_order_close(purchase_order=order, actor=raiser)


def test_draft_lines_can_be_replaced_and_totals_recomputed(make_order, raiser, laptop_model):
    order = make_order("100.00", submit=False)

    services.purchase_order_lines_replace(
        purchase_order=order,
        lines=[
            {
                "device_model": laptop_model,
                "quantity": 4,
                "unit_price": Decimal("250.00"),
                "vat_rate": Decimal("0.2"),
            }
        ],
        actor=raiser,
    )

    order.refresh_from_db()
    assert order.lines.count() == 1
    assert (order.net_total, order.vat_total, order.gross_total) == (
        Decimal("1000.00"),
        Decimal("200.00"),
        Decimal("1200.00"),
    )


def test_submitted_lines_cannot_be_replaced(make_order, raiser, laptop_model):
    order = make_order("100.00")

    with pytest.raises(DomainError, match="only a draft can be changed"):
        services.purchase_order_lines_replace(
            purchase_order=order,
            lines=[{"device_model": laptop_model, "quantity": 1, "unit_price": Decimal("1")}],
            actor=raiser,
        )
    assert PurchaseOrder.objects.get(pk=order.pk).gross_total == Decimal("100.00")


def test_approvals_recorded_for_the_old_value_no_longer_count_after_the_lines_change(
    make_order, raiser, laptop_model, commercial_officer, thresholds
):
    order = make_order("300000.00")
    services.approval_record_add(
        purchase_order=order, kind="compliant_route", reference="R", recorded_by=commercial_officer
    )
    services.purchase_order_return_to_draft(
        purchase_order=order, actor=raiser, reason="Wrong model"
    )

    services.purchase_order_lines_replace(
        purchase_order=order,
        lines=[{"device_model": laptop_model, "quantity": 1, "unit_price": Decimal("900000")}],
        actor=raiser,
    )

    # Approval records are append-only: they stay, for the old revision only.
    order.refresh_from_db()
    assert order.revision == 2
    assert order.approval_records.filter(order_revision=1).count() == 1
    assert not order.approval_records.filter(order_revision=order.revision).exists()
    missing = services.approval_requirements(purchase_order=order, on_date=APPROVAL_DAY)
    assert any("must confirm the compliant route" in m for m in missing)
