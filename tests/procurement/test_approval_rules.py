"""Approval rules: delegated limits, the thresholds in force on the approval day
(both sides of each boundary, including the day a new threshold takes effect),
and the envelope guard."""

import datetime as dt
from decimal import Decimal

import pytest

from accounts.roles import Role
from core.errors import DomainError
from procurement import services
from procurement.models import ApprovalRecord, Contract, ProcurementThreshold, PurchaseOrder
from tests.factories import UserFactory
from tests.procurement.conftest import APPROVAL_DAY, approve_on, award

pytestmark = pytest.mark.usefixtures("thresholds", "authorities")


def _record(order, kind, by=None):
    """Record an approval by ``by``, or by a commercial officer who is not the approver
    (the recorder of a compliant route or DMPC decision may not approve the order)."""
    return services.approval_record_add(
        purchase_order=order,
        kind=kind,
        reference=f"{kind}-ref",
        recorded_by=by or UserFactory(role=Role.COMMERCIAL),
    )


# --- delegated limits ------------------------------------------------------------


def test_finance_officer_may_approve_up_to_their_delegated_limit(make_order, finance_officer):
    order = make_order("100000.00")

    approve_on(order, finance_officer, APPROVAL_DAY)

    order.refresh_from_db()
    assert order.status == PurchaseOrder.Status.APPROVED
    assert order.committed_total == Decimal("100000.00")


def test_finance_officer_refused_a_penny_over_their_delegated_limit(make_order, finance_officer):
    order = make_order("100000.01")

    with pytest.raises(DomainError, match=r"delegated limit is £100,000.00 \(£0.01 over\)"):
        approve_on(order, finance_officer, APPROVAL_DAY)
    order.refresh_from_db()
    assert order.status == PurchaseOrder.Status.SUBMITTED


def test_commercial_officer_may_approve_above_the_finance_limit(make_order, commercial_officer):
    order = make_order("150000.00")

    approve_on(order, commercial_officer, APPROVAL_DAY)

    assert PurchaseOrder.objects.get(pk=order.pk).status == PurchaseOrder.Status.APPROVED


def test_asset_manager_has_no_authority_to_approve(make_order, asset_manager):
    order = make_order("100.00")

    with pytest.raises(DomainError, match="no delegated authority"):
        approve_on(order, asset_manager, APPROVAL_DAY)


def test_raiser_cannot_approve_their_own_order(make_order, laptop_line, supplier, unit):
    approver = UserFactory(role=Role.COMMERCIAL)
    order = make_order("100.00")
    order.raised_by = approver
    order.save(update_fields=["raised_by"])

    with pytest.raises(DomainError, match="raised an order cannot approve"):
        approve_on(order, approver, APPROVAL_DAY)


# --- the procurement-regulations threshold (£213,477 incl. VAT) ------------------


def test_order_just_below_regulations_threshold_needs_no_contract(make_order, commercial_officer):
    order = make_order("213476.99")

    approve_on(order, commercial_officer, APPROVAL_DAY)

    assert PurchaseOrder.objects.get(pk=order.pk).status == PurchaseOrder.Status.APPROVED


def test_order_at_regulations_threshold_refused_without_compliant_route(
    make_order, commercial_officer
):
    order = make_order("213477.00")

    with pytest.raises(DomainError, match="at or above the procurement-regulations threshold"):
        approve_on(order, commercial_officer, APPROVAL_DAY)
    assert PurchaseOrder.objects.get(pk=order.pk).committed_total == 0


def test_order_at_regulations_threshold_approved_on_compliant_call_off_with_confirmation(
    make_order, commercial_officer, call_off
):
    order = make_order("213477.00", contract=call_off)
    _record(order, ApprovalRecord.Kind.COMPLIANT_ROUTE)

    approve_on(order, commercial_officer, APPROVAL_DAY)

    assert PurchaseOrder.objects.get(pk=order.pk).status == PurchaseOrder.Status.APPROVED


def test_order_at_regulations_threshold_refused_without_confirmation_record(
    make_order, commercial_officer, call_off
):
    order = make_order("213477.00", contract=call_off)

    with pytest.raises(DomainError, match="must confirm the compliant route"):
        approve_on(order, commercial_officer, APPROVAL_DAY)


def test_call_off_whose_ordering_process_was_not_followed_is_not_a_compliant_route(
    make_order, commercial_officer, call_off
):
    Contract.objects.filter(pk=call_off.pk).update(ordering_process_followed=False)
    call_off.refresh_from_db()
    order = make_order("213477.00", contract=call_off)
    _record(order, ApprovalRecord.Kind.COMPLIANT_ROUTE)

    with pytest.raises(DomainError, match="compliant route"):
        approve_on(order, commercial_officer, APPROVAL_DAY)


def test_only_commercial_officers_confirm_the_route(make_order, finance_officer):
    order = make_order("213477.00")

    with pytest.raises(DomainError, match="Only commercial officers"):
        _record(order, ApprovalRecord.Kind.COMPLIANT_ROUTE, finance_officer)


# --- the Deputy Mayor's threshold (£500,000) --------------------------------------


def test_order_just_below_dmpc_threshold_needs_no_dmpc_record(
    make_order, commercial_officer, call_off
):
    order = make_order("499999.99", contract=call_off)
    _record(order, ApprovalRecord.Kind.COMPLIANT_ROUTE)

    approve_on(order, commercial_officer, APPROVAL_DAY)

    assert PurchaseOrder.objects.get(pk=order.pk).status == PurchaseOrder.Status.APPROVED


def test_order_at_dmpc_threshold_refused_until_dmpc_approval_recorded(
    make_order, commercial_officer, call_off
):
    order = make_order("500000.00", contract=call_off)
    _record(order, ApprovalRecord.Kind.COMPLIANT_ROUTE)

    with pytest.raises(DomainError, match="DMPC approval / no call-in"):
        approve_on(order, commercial_officer, APPROVAL_DAY)

    _record(order, ApprovalRecord.Kind.DMPC)
    approve_on(order, commercial_officer, APPROVAL_DAY)
    assert PurchaseOrder.objects.get(pk=order.pk).status == PurchaseOrder.Status.APPROVED


# --- a new threshold taking effect -------------------------------------------------


@pytest.fixture
def raised_threshold(db):
    """The regulations threshold rises to £250,000 on 1 January 2026."""
    return services.threshold_create(
        kind=ProcurementThreshold.Kind.REGULATIONS,
        amount=Decimal("250000.00"),
        effective_from=dt.date(2026, 1, 1),
    )


def test_old_threshold_applies_the_day_before_a_new_one_takes_effect(
    make_order, commercial_officer, raised_threshold
):
    order = make_order("220000.00")

    with pytest.raises(DomainError, match=r"threshold of £213,477.00"):
        approve_on(order, commercial_officer, dt.date(2025, 12, 31))


def test_new_threshold_applies_on_the_day_it_takes_effect(
    make_order, commercial_officer, raised_threshold
):
    order = make_order("220000.00")

    approve_on(order, commercial_officer, dt.date(2026, 1, 1))

    assert PurchaseOrder.objects.get(pk=order.pk).status == PurchaseOrder.Status.APPROVED


def test_new_threshold_boundary_is_inclusive_on_its_first_day(
    make_order, commercial_officer, raised_threshold
):
    order = make_order("250000.00")

    with pytest.raises(DomainError, match=r"threshold of £250,000.00"):
        approve_on(order, commercial_officer, dt.date(2026, 1, 1))


def test_lowered_dmpc_threshold_catches_an_order_from_its_first_day(
    make_order, commercial_officer, call_off
):
    services.threshold_create(
        kind=ProcurementThreshold.Kind.DEPUTY_MAYOR,
        amount=Decimal("400000.00"),
        effective_from=dt.date(2025, 7, 1),
    )
    order = make_order("450000.00", contract=call_off)
    _record(order, ApprovalRecord.Kind.COMPLIANT_ROUTE)

    assert services.approval_requirements(purchase_order=order, on_date=dt.date(2025, 6, 30)) == []
    missing = services.approval_requirements(purchase_order=order, on_date=dt.date(2025, 7, 1))
    assert len(missing) == 1 and "DMPC" in missing[0]


def test_approval_refused_when_no_threshold_is_in_force(make_order, commercial_officer):
    # Given the approval table reaches back further than the thresholds
    services.approval_authority_set(
        role=Role.COMMERCIAL.value,
        limit=None,
        effective_from=dt.date(2023, 1, 1),
        decision_reference="Test decision",
    )
    order = make_order("100.00")

    with pytest.raises(DomainError, match="No procurement thresholds are in force"):
        approve_on(order, commercial_officer, dt.date(2023, 12, 31))


def test_new_delegated_limit_applies_from_its_effective_date(make_order, finance_officer):
    services.approval_authority_set(
        role=Role.FINANCE.value, limit=Decimal("150000.00"), effective_from=dt.date(2025, 9, 1)
    )
    order = make_order("120000.00")

    with pytest.raises(DomainError, match="delegated limit is £100,000.00"):
        approve_on(order, finance_officer, dt.date(2025, 8, 31))
    approve_on(order, finance_officer, dt.date(2025, 9, 1))
    assert PurchaseOrder.objects.get(pk=order.pk).status == PurchaseOrder.Status.APPROVED


# --- the envelope guard ----------------------------------------------------------------


def test_approval_refused_when_budget_line_would_be_exceeded(
    make_order, commercial_officer, call_off
):
    # Given a £1m line with £600,000 committed
    first = make_order("600000.00", contract=call_off)
    _record(first, ApprovalRecord.Kind.COMPLIANT_ROUTE)
    _record(first, ApprovalRecord.Kind.DMPC)
    approve_on(first, commercial_officer, APPROVAL_DAY)
    # When an order for £400,000.01 is approved
    second = make_order("400000.01", contract=call_off)
    _record(second, ApprovalRecord.Kind.COMPLIANT_ROUTE)

    # Then it is refused, saying by how much
    with pytest.raises(DomainError, match=r"would exceed the 2025/26 laptop line by £0.01"):
        approve_on(second, commercial_officer, APPROVAL_DAY)
    assert PurchaseOrder.objects.get(pk=second.pk).status == PurchaseOrder.Status.SUBMITTED


def test_order_filling_the_line_exactly_is_approved(make_order, commercial_officer, call_off):
    first = make_order("600000.00", contract=call_off)
    second = make_order("400000.00", contract=call_off)
    for order in (first, second):
        _record(order, ApprovalRecord.Kind.COMPLIANT_ROUTE)
    _record(first, ApprovalRecord.Kind.DMPC)

    for order in (first, second):
        approve_on(order, commercial_officer, APPROVAL_DAY)

    assert services._committed_on(budget_line_ids=[first.budget_line_id]) == Decimal("1000000.00")


def test_approval_refused_when_envelope_would_be_exceeded(make_order, commercial_officer, envelope):
    # Given an envelope cut (by a later decision) to below its line
    type(envelope).objects.filter(pk=envelope.pk).update(total=Decimal("50000.00"))
    order = make_order("60000.00")

    with pytest.raises(DomainError, match=r"would exceed the envelope by £10,000.00"):
        approve_on(order, commercial_officer, APPROVAL_DAY)


def test_cancelling_an_approved_order_releases_its_commitment(
    make_order, commercial_officer, laptop_line
):
    order = make_order("90000.00")
    approve_on(order, commercial_officer, APPROVAL_DAY)

    services.purchase_order_cancel(
        purchase_order=order, actor=commercial_officer, reason="Supplier withdrew"
    )

    assert services._committed_on(budget_line_ids=[laptop_line.pk]) == 0


def test_approval_refused_when_the_contract_ceiling_would_be_exceeded(
    make_order, commercial_officer, envelope, supplier
):
    # Given a £150,000 call-off with £100,000 already committed
    small = services.contract_create(
        envelope=envelope,
        supplier=supplier,
        reference="CO-SMALL",
        title="Small call-off",
        route=Contract.Route.CALL_OFF,
        framework_name="CCS TePAS 2",
        ordering_process_followed=True,
        framework_ceiling=Decimal("500000000.00"),
        framework_end_date=dt.date(2028, 3, 31),
        value_ceiling=Decimal("150000.00"),
        start_date=dt.date(2025, 4, 1),
        end_date=dt.date(2026, 3, 31),
    )
    award(small)
    approve_on(make_order("100000.00", contract=small), commercial_officer, APPROVAL_DAY)
    order = make_order("50000.01", contract=small)

    with pytest.raises(DomainError, match=r"ceiling of £150,000.00 by £0.01"):
        approve_on(order, commercial_officer, APPROVAL_DAY)


def test_approval_refused_outside_the_contract_term(make_order, commercial_officer, call_off):
    order = make_order("100.00", contract=call_off)

    with pytest.raises(DomainError, match="not in force on 01 April 2027"):
        approve_on(order, commercial_officer, dt.date(2027, 4, 1))
