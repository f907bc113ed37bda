"""The procurement demo: the business case's envelope, orders in every status and
devices received, built through the services on a small estate."""

import datetime as dt
import io
import random
from decimal import Decimal

import pytest
from django.db.models import Sum

from devices.models import Device
from procurement import demo, selectors
from procurement.models import BudgetLine, CapitalEnvelope, PurchaseOrder, ReceivedDevice
from tests.factories import BusinessUnitFactory, DeviceModelFactory, ManufacturerFactory
from tests.procurement.conftest import approve_on


@pytest.fixture
def small_estate(db):
    BusinessUnitFactory.create_batch(3)
    maker = ManufacturerFactory(name="Dell")
    for name, category, price in [
        ("Latitude 5450", "laptop", "1019.00"),
        ("Latitude 5440", "laptop", "979.00"),
        ("OptiPlex 7010", "desktop", "769.00"),
        ("P2425H", "monitor", "179.00"),
        ("Phone 1", "smartphone", "399.00"),
    ]:
        DeviceModelFactory(
            manufacturer=maker, name=name, category=category, unit_price=Decimal(price)
        )


def test_demo_seeds_the_business_case_envelope_with_orders_in_every_status(small_estate):
    out = io.StringIO()

    demo.seed(rng=random.Random("demo"), today=dt.date(2026, 11, 25), stdout=out)

    envelope = CapitalEnvelope.objects.get()
    assert envelope.total == Decimal("46763000")
    assert BudgetLine.objects.aggregate(t=Sum("amount"))["t"] == Decimal("46763000")
    assert set(PurchaseOrder.objects.values_list("status", flat=True)) == set(
        PurchaseOrder.Status.values
    )
    received = ReceivedDevice.objects.count()
    assert 300 <= received <= 450
    assert Device.objects.filter(procurement_receipt__isnull=False).count() == received
    position = selectors.envelope_position()
    assert Decimal("0") < position["committed"] <= position["total"]
    assert all(row["committed"] <= row["budget"] for row in position["rows"])
    assert "devices received into stock" in out.getvalue()


def test_demo_does_nothing_the_second_time(small_estate):
    demo.seed(rng=random.Random("demo"), today=dt.date(2026, 11, 25), stdout=io.StringIO())
    orders = PurchaseOrder.objects.count()

    demo.seed(rng=random.Random("demo"), today=dt.date(2026, 11, 25), stdout=io.StringIO())

    assert PurchaseOrder.objects.count() == orders


def test_demo_obeys_the_approval_rules_and_leaves_a_journey_for_the_second_finance_login(
    small_estate,
):
    from django.contrib.auth import get_user_model

    from procurement.models import ApprovalAuthority, Contract

    demo.seed(rng=random.Random("demo"), today=dt.date(2026, 11, 25), stdout=io.StringIO())

    # No role is unlimited, and every contract's award is recorded before its orders.
    assert not ApprovalAuthority.objects.filter(limit__isnull=True).exists()
    assert all(contract.is_awarded for contract in Contract.objects.all())
    # Nobody approved an order they raised or recorded a decision on.
    for order in PurchaseOrder.objects.filter(approved_by__isnull=False):
        assert order.approved_by_id != order.raised_by_id
        assert not order.approval_records.filter(recorded_by=order.approved_by).exists()
    # finance.officer raised a small order that finance.approver can finish.
    users = get_user_model().objects
    raiser, approver = users.get(username="finance.officer"), users.get(username="finance.approver")
    waiting = PurchaseOrder.objects.get(
        status=PurchaseOrder.Status.SUBMITTED,
        raised_by=raiser,
        gross_total__lte=Decimal("213476.99"),
    )
    approve_on(waiting, approver, dt.date(2026, 11, 25))
    assert PurchaseOrder.objects.get(pk=waiting.pk).status == PurchaseOrder.Status.APPROVED
    # Cancelled orders say why (the database requires it).
    cancelled = PurchaseOrder.objects.filter(status=PurchaseOrder.Status.CANCELLED)
    assert cancelled.exists() and not cancelled.filter(cancellation_reason="").exists()


def test_demo_history_is_dated_in_the_past_and_no_approval_falls_in_a_closed_year(small_estate):
    from core.financial_year import FinancialYear, financial_year

    demo.seed(rng=random.Random("demo"), today=dt.date(2026, 11, 25), stdout=io.StringIO())

    approved = PurchaseOrder.objects.filter(approved_on__isnull=False).select_related("budget_line")
    assert approved.exists()
    for order in approved:
        assert order.approved_on < dt.date(2026, 11, 25)
        # Each approval was made while its line's year was open.
        assert financial_year(order.approved_on) <= FinancialYear.parse(
            order.budget_line.financial_year
        )
