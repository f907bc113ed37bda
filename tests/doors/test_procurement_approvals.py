"""Procurement's approval rules at every door that reaches them (service, page POST,
REST API): aggregation of off-contract orders (no splitting), contracts without a
recorded award, closed financial years, the default approval authorities and
separation of duties. Each case asserts the refusal and that nothing was committed.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.test import Client
from django.urls import reverse
from freezegun import freeze_time
from rest_framework.test import APIClient

from core.errors import DomainError
from procurement import services
from procurement.models import ApprovalRecord, Contract, PurchaseOrder
from tests.factories import DeviceModelFactory
from tests.procurement.doors_support import (
    API,
    OPEN_DAY,
    approve_through,
    assert_not_approved,
    build_world,
    raise_order,
    record,
)

DOORS = ["service", "page", "api"]


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def frozen_at():
    """The day the doors are tried on; a test parametrizes it to try another."""
    return OPEN_DAY


@pytest.fixture(autouse=True)
def _clock(frozen_at):
    # One freeze per test: nested freezes break DRF's throttle timer.
    with freeze_time(frozen_at):
        yield


def _committed() -> Decimal:
    return PurchaseOrder.objects.aggregate(t=Sum("committed_total"))["t"] or Decimal("0")


def _assert_refused(door, got, code, *fragments):
    got_code, message = got
    assert got_code != "ok", f"{door}: approved, expected {code}"
    if door != "page":
        assert got_code == code, message
    for fragment in fragments:
        assert fragment in message, message


# --- rule 1: no splitting: thresholds on the aggregate of off-contract orders -----------


@pytest.mark.parametrize("door", DOORS, ids=["rule1-second-order-service", "page", "api"])
def test_second_off_contract_order_needs_a_compliant_route_on_the_aggregate(world, door):
    # Given £204,000 approved to the supplier for laptops in 2025/26, with no contract
    first = raise_order(world, "204000.00")
    services.purchase_order_approve(purchase_order=first, approved_by=world.approver)
    second = raise_order(world, "204000.00")
    before = _committed()

    # When a second £204,000 order is approved (£408,000 together)
    got = approve_through(door, second, world.approver)

    # Then it is refused, naming the aggregate and the orders making it
    _assert_refused(
        door,
        got,
        "approval_missing",
        "aggregate to £408,000.00",
        f"{first} (£204,000.00)",
        f"{second} (£204,000.00)",
        "compliant route",
    )
    assert_not_approved(second)
    assert _committed() == before


@pytest.mark.parametrize("door", DOORS, ids=["rule1-third-order-service", "page", "api"])
def test_third_off_contract_order_also_needs_the_dmpc_decision(world, door):
    first = raise_order(world, "204000.00")
    services.purchase_order_approve(purchase_order=first, approved_by=world.approver)
    second = raise_order(world, "204000.00")
    record(world, second, ApprovalRecord.Kind.COMPLIANT_ROUTE)
    services.purchase_order_approve(purchase_order=second, approved_by=world.approver)
    third = raise_order(world, "204000.00")
    record(world, third, ApprovalRecord.Kind.COMPLIANT_ROUTE)
    before = _committed()

    got = approve_through(door, third, world.approver)

    _assert_refused(door, got, "approval_missing", "aggregate to £612,000.00", "DMPC")
    assert_not_approved(third)
    assert _committed() == before


def test_with_the_records_the_third_order_is_approved(world):
    # The refusals above are the rule, not a blanket refusal.
    for n in range(3):
        order = raise_order(world, "204000.00")
        if n >= 1:
            record(world, order, ApprovalRecord.Kind.COMPLIANT_ROUTE)
        if n == 2:
            record(world, order, ApprovalRecord.Kind.DMPC)
        services.purchase_order_approve(purchase_order=order, approved_by=world.approver)
    assert _committed() == Decimal("612000.00")


def test_orders_under_an_awarded_contract_are_not_aggregated(world):
    for _ in range(3):
        order = raise_order(world, "204000.00", contract=world.call_off)
        services.purchase_order_approve(purchase_order=order, approved_by=world.approver)
    assert _committed() == Decimal("612000.00")


# --- rule 2: a contract takes orders only once its award is recorded --------------------


@pytest.fixture
def unawarded(world):
    return services.contract_create(
        envelope=world.envelope,
        supplier=world.supplier,
        reference="NC-UNAWARDED",
        title="Laptops (new contract, award not recorded)",
        route=Contract.Route.NEW_CONTRACT,
        value_ceiling=Decimal("2000000.00"),
        start_date=dt.date(2025, 4, 1),
        end_date=dt.date(2027, 3, 31),
    )


def _create_order_through(door, world, contract):
    lines = [{"device_model": world.model.pk, "quantity": 1, "unit_price": "1000.00"}]
    if door == "service":
        try:
            services.purchase_order_create(
                budget_line=world.line,
                supplier=world.supplier,
                business_unit=world.unit,
                raised_by=world.raiser,
                contract=contract,
                lines=[{**lines[0], "device_model": world.model}],
            )
        except DomainError as exc:
            return exc.code, exc.message
        return "ok", ""
    if door == "page":
        client = Client()
        client.force_login(world.raiser)
        response = client.post(
            reverse("procurement:purchase_order_create"),
            {
                "budget_line": world.line.pk,
                "supplier": world.supplier.pk,
                "contract": contract.pk,
                "business_unit": world.unit.pk,
                "lines-TOTAL_FORMS": "1",
                "lines-INITIAL_FORMS": "0",
                "lines-0-device_model": world.model.pk,
                "lines-0-quantity": "1",
                "lines-0-unit_price": "1000.00",
                "lines-0-vat_rate": "0.2",
            },
        )
        if response.status_code == 302:
            return "ok", ""
        return "page", response.content.decode()
    client = APIClient()
    client.force_authenticate(world.raiser)
    response = client.post(
        f"{API}/purchase-orders/",
        {
            "budget_line": world.line.pk,
            "supplier": world.supplier.pk,
            "contract": contract.pk,
            "business_unit": world.unit.pk,
            "lines": lines,
        },
        format="json",
    )
    if response.status_code == 201:
        return "ok", ""
    return response.json()["error"]["code"], response.json()["error"]["message"]


@pytest.mark.parametrize("door", DOORS, ids=["rule2-order-on-unawarded-service", "page", "api"])
def test_a_contract_without_its_award_takes_no_orders(world, unawarded, door):
    before = PurchaseOrder.objects.count()

    got = _create_order_through(door, world, unawarded)

    _assert_refused(door, got, "contract_not_awarded", "takes no orders until its award")
    assert PurchaseOrder.objects.count() == before


@pytest.mark.parametrize("door", DOORS, ids=["rule2-approve-on-unawarded-service", "page", "api"])
def test_an_order_already_on_an_unawarded_contract_is_not_approved(world, unawarded, door):
    # Given an order placed on the contract before awards were required
    order = raise_order(world, "1000.00")
    PurchaseOrder.objects.filter(pk=order.pk).update(contract=unawarded)
    order.refresh_from_db()

    got = approve_through(door, order, world.finance_approver)

    _assert_refused(door, got, "contract_not_awarded", "NC-UNAWARDED")
    assert_not_approved(order)


def _award_through(door, world, contract, **fields):
    data = {
        "compliant_route": "Open procedure, PCR 2015",
        "dsp_consent_reference": "DSP-1",
        "dsp_consent_on": "2025-05-01",
        **fields,
    }
    if door == "service":
        try:
            services.contract_award_record(
                contract=contract,
                recorded_by=world.commercial,
                compliant_route=data["compliant_route"],
                dsp_consent_reference=data["dsp_consent_reference"],
                dsp_consent_on=dt.date.fromisoformat(data["dsp_consent_on"]),
                dmpc_notified_on=(
                    dt.date.fromisoformat(data["dmpc_notified_on"])
                    if data.get("dmpc_notified_on")
                    else None
                ),
                dmpc_called_in={"yes": True, "no": False}.get(data.get("dmpc_called_in", "")),
                dmpc_decision_reference=data.get("dmpc_decision_reference", ""),
            )
        except DomainError as exc:
            return exc.code, exc.message
        return "ok", ""
    if door == "page":
        client = Client()
        client.force_login(world.commercial)
        response = client.post(reverse("procurement:contract_detail", args=[contract.pk]), data)
        if response.status_code == 302:
            return "ok", ""
        return "page", response.content.decode()
    client = APIClient()
    client.force_authenticate(world.commercial)
    body = {**data}
    if "dmpc_called_in" in body:
        body["dmpc_called_in"] = {"yes": True, "no": False}.get(body["dmpc_called_in"])
    response = client.post(f"{API}/contracts/{contract.pk}/award/", body, format="json")
    if response.status_code == 200:
        return "ok", ""
    return response.json()["error"]["code"], response.json()["error"]["message"]


AWARD_CASES = [
    # (fields, code, fragment): a £2m contract is at or above the DMPC's £500,000
    ({}, "dmpc_outcome_missing", "record when it was notified"),
    (
        {"dmpc_notified_on": "2025-04-01", "dmpc_called_in": "yes"},
        "dmpc_outcome_missing",
        "record the DMPC decision",
    ),
]


@pytest.mark.parametrize(
    "door,case",
    [(door, case) for case in range(len(AWARD_CASES)) for door in DOORS],
    ids=[
        f"rule2-award-{name}-{door}"
        for name in ("no-dmpc-outcome", "called-in-no-decision")
        for door in DOORS
    ],
)
def test_an_award_at_500k_needs_the_dmpc_call_in_outcome(world, unawarded, door, case):
    fields, code, fragment = AWARD_CASES[case]

    got = _award_through(door, world, unawarded, **fields)

    _assert_refused(door, got, code, fragment)
    unawarded.refresh_from_db()
    assert not unawarded.is_awarded


@pytest.mark.parametrize("door", DOORS, ids=["rule2-award-recorded-service", "page", "api"])
def test_an_award_with_its_outcome_is_recorded_and_the_contract_takes_orders(
    world, unawarded, door
):
    got = _award_through(door, world, unawarded, dmpc_notified_on="2025-04-01", dmpc_called_in="no")

    assert got[0] == "ok", got
    assert _create_order_through("service", world, Contract.objects.get(pk=unawarded.pk)) == (
        "ok",
        "",
    )


# --- rule 4: closed financial years -----------------------------------------------------


# 1 April 2026 00:30 in London (BST) is 31 March 23:30 UTC: 2025/26 has closed.
@pytest.mark.parametrize("frozen_at", ["2026-03-31 23:30:00"])
@pytest.mark.parametrize("door", DOORS, ids=["rule4-closed-year-service", "page", "api"])
def test_approval_against_a_closed_years_line_is_refused(world, door):
    order = raise_order(world, "1000.00")

    got = approve_through(door, order, world.finance_approver)

    _assert_refused(door, got, "financial_year_closed", "2025/26 budget year closed")
    assert_not_approved(order)


# 31 March 2026 23:30 BST is 22:30 UTC: still 2025/26.
@pytest.mark.parametrize("frozen_at", ["2026-03-31 22:30:00"])
def test_the_last_evening_of_the_year_in_london_is_still_open(world):
    order = raise_order(world, "1000.00")
    services.purchase_order_approve(purchase_order=order, approved_by=world.finance_approver)
    order.refresh_from_db()
    assert order.status == PurchaseOrder.Status.APPROVED


@pytest.mark.parametrize("frozen_at", ["2026-04-02 12:00:00"])
def test_money_reprofiled_to_an_open_line_is_approved_there(world):
    # Given 2025/26 has closed, finance moves the money to 2026/27 with a recorded transfer
    transfer = services.budget_transfer_make(
        from_line=world.line,
        to_line=world.next_line,
        amount=Decimal("1000.00"),
        reason="Reprofiled: 2025/26 laptops slipped into 2026/27",
        made_by=world.owner,
    )
    order = raise_order(world, "1000.00", line=world.next_line)
    services.purchase_order_approve(purchase_order=order, approved_by=world.finance_approver)
    assert transfer.pk and PurchaseOrder.objects.get(pk=order.pk).committed_total == Decimal(
        "1000.00"
    )


# --- rule 5: the default approval table ----------------------------------------------------


@pytest.mark.parametrize("door", DOORS, ids=["rule5-finance-limit-service", "page", "api"])
def test_finance_may_not_approve_at_the_regulations_threshold(world, door):
    order = raise_order(world, "213477.00", contract=world.call_off)

    got = approve_through(door, order, world.finance_approver)

    _assert_refused(door, got, "permission_denied", "delegated limit is £213,476.99")
    assert_not_approved(order)


@pytest.mark.parametrize("door", DOORS, ids=["rule5-commercial-limit-service", "page", "api"])
def test_no_role_is_unlimited_by_default(world, door):
    # £25m and a penny: above the Commercial Director's delegation.
    big_line = services.budget_line_create(
        envelope=world.envelope,
        financial_year="2025/26",
        category="desktop",
        amount=Decimal("30000000.00"),
    )
    desktop = DeviceModelFactory(category="desktop", name="OptiPlex 7010")
    order = services.purchase_order_create(
        budget_line=big_line,
        supplier=world.supplier,
        business_unit=world.unit,
        raised_by=world.raiser,
        lines=[{"device_model": desktop, "quantity": 1, "unit_price": Decimal("25000000.01")}],
        description="",
    )
    services.purchase_order_submit(purchase_order=order, actor=world.raiser)

    got = approve_through(door, order, world.approver)

    _assert_refused(door, got, "permission_denied", "delegated limit is £25,000,000.00")
    assert_not_approved(order)


# --- rule 6: separation of duties ----------------------------------------------------------


@pytest.mark.parametrize(
    "door,who",
    [(door, who) for who in ("recorder", "raiser") for door in DOORS],
    ids=[f"rule6-{who}-{door}" for who in ("recorder", "raiser") for door in DOORS],
)
def test_the_raiser_or_a_recorder_may_not_approve_the_order(world, door, who):
    if who == "recorder":
        order = raise_order(world, "213477.00", contract=world.call_off)
        record(world, order, ApprovalRecord.Kind.COMPLIANT_ROUTE, by=world.approver)
        expected = "someone else must approve it"
    else:
        order = raise_order(world, "1000.00")
        expected = "raised an order cannot approve it"
    user = world.approver if who == "recorder" else world.raiser

    got = approve_through(door, order, user)

    _assert_refused(door, got, "same_person", expected)
    assert_not_approved(order)
