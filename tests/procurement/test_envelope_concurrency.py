"""The envelope guard under concurrent approvals, on PostgreSQL.

Many approvals start at once, each in its own thread with its own connection.
Only the ones that fit may win; the sums in the database afterwards must never
exceed the line or the envelope, and exactly as many orders as fit are approved.
"""

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from freezegun import freeze_time

from accounts.roles import Role
from core.errors import DomainError
from procurement import services
from procurement.models import CapitalEnvelope, PurchaseOrder
from tests.factories import BusinessUnitFactory, DeviceModelFactory, UserFactory
from tests.procurement.conftest import APPROVAL_DAY

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("thresholds", "authorities")]


def _approve_all_at_once(orders, approver):
    """Start one thread per order behind a barrier; return (approved, refusals)."""
    barrier = threading.Barrier(len(orders))
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker(order):
        try:
            barrier.wait(timeout=30)
            services.purchase_order_approve(purchase_order=order, approved_by=approver)
            result = "approved"
        except DomainError as exc:
            result = exc.message
        finally:
            # Each thread opened its own connection: close it, or the test
            # database cannot be flushed at teardown.
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=worker, args=(order,)) for order in orders]
    # The service approves today: the clock is set once, here, for every thread
    # (freezegun is not safe to start and stop from several threads).
    with freeze_time(dt.datetime.combine(APPROVAL_DAY, dt.time(12, 0))):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    approved = [o for o in outcomes if o == "approved"]
    refused = [o for o in outcomes if o != "approved"]
    return approved, refused


def _orders(*, line, count, gross, supplier, unit, model, raiser, contract):
    # Under an awarded call-off: off-contract orders to one supplier would aggregate
    # past the regulations threshold (no splitting) and be refused for that instead.
    orders = []
    for _ in range(count):
        order = services.purchase_order_create(
            budget_line=line,
            supplier=supplier,
            contract=contract,
            business_unit=unit,
            raised_by=raiser,
            lines=[
                {
                    "device_model": model,
                    "quantity": 100,
                    "unit_price": gross / 100,
                    "vat_rate": Decimal("0"),
                }
            ],
        )
        services.purchase_order_submit(purchase_order=order, actor=raiser)
        orders.append(order)
    return orders


@pytest.mark.django_db(transaction=True)
def test_concurrent_approvals_never_overcommit_the_budget_line(envelope, supplier, call_off):
    # Given a £500,000 line and twelve submitted orders of £90,000: five fit
    line = services.budget_line_create(
        envelope=envelope, financial_year="2025/26", category="laptop", amount=Decimal("500000")
    )
    raiser = UserFactory(role=Role.ASSET_MANAGER)
    approver = UserFactory(role=Role.COMMERCIAL)
    orders = _orders(
        line=line,
        count=12,
        gross=Decimal("90000.00"),
        supplier=supplier,
        unit=BusinessUnitFactory(),
        model=DeviceModelFactory(),
        raiser=raiser,
        contract=call_off,
    )

    # When all twelve are approved at once
    approved, refused = _approve_all_at_once(orders, approver)

    # Then exactly five win, the rest say by how much they would overspend,
    # and the committed sum in the database is within the line
    assert len(approved) == 5
    assert len(refused) == 7
    assert all("would exceed the 2025/26 laptop line by £" in m for m in refused)
    committed = PurchaseOrder.objects.filter(
        budget_line=line, status=PurchaseOrder.Status.APPROVED
    ).aggregate(total=Sum("committed_total"))["total"]
    assert committed == Decimal("450000.00")
    assert committed <= line.amount


@pytest.mark.django_db(transaction=True)
def test_concurrent_approvals_on_two_lines_never_overcommit_the_envelope(
    envelope, supplier, call_off
):
    # Given two £500,000 lines under an envelope later cut to £700,000, and eight
    # £90,000 orders on each line: five fit per line, but only seven in all
    laptops = services.budget_line_create(
        envelope=envelope, financial_year="2025/26", category="laptop", amount=Decimal("500000")
    )
    desktops = services.budget_line_create(
        envelope=envelope, financial_year="2025/26", category="desktop", amount=Decimal("500000")
    )
    CapitalEnvelope.objects.filter(pk=envelope.pk).update(total=Decimal("700000.00"))
    raiser = UserFactory(role=Role.ASSET_MANAGER)
    approver = UserFactory(role=Role.COMMERCIAL)
    unit = BusinessUnitFactory()
    orders = _orders(
        line=laptops,
        count=8,
        gross=Decimal("90000.00"),
        supplier=supplier,
        unit=unit,
        model=DeviceModelFactory(),
        raiser=raiser,
        contract=call_off,
    ) + _orders(
        line=desktops,
        count=8,
        gross=Decimal("90000.00"),
        supplier=supplier,
        unit=unit,
        model=DeviceModelFactory(name="OptiPlex 7010", category="desktop"),
        raiser=raiser,
        contract=call_off,
    )

    # When all sixteen are approved at once
    approved, refused = _approve_all_at_once(orders, approver)

    # Then exactly seven win and neither the lines nor the envelope are overcommitted
    assert len(approved) == 7
    assert len(refused) == 9
    per_line = dict(
        PurchaseOrder.objects.filter(status=PurchaseOrder.Status.APPROVED)
        .values_list("budget_line")
        .annotate(total=Sum("committed_total"))
        .order_by()
    )
    assert all(total <= Decimal("500000") for total in per_line.values())
    assert sum(per_line.values()) == Decimal("630000.00")
    assert sum(per_line.values()) <= Decimal("700000.00")
