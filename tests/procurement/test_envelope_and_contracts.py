"""Budget lines within the envelope, transfers by the owner's role only, and the
Commercial Director's delegation for new contracts (£25m in total, 4 years)."""

import datetime as dt
from decimal import Decimal

import pytest

from accounts.roles import Role
from core.errors import DomainError
from procurement import services
from procurement.models import BudgetLine, BudgetTransfer, Contract
from tests.factories import UserFactory
from tests.procurement.conftest import approve_on


def test_budget_lines_may_fill_the_envelope_exactly(envelope):
    services.budget_line_create(
        envelope=envelope, financial_year="2025/26", category="laptop", amount=Decimal("24100000")
    )
    services.budget_line_create(
        envelope=envelope, financial_year="2026/27", category="laptop", amount=Decimal("22663000")
    )

    assert sum(line.amount for line in envelope.budget_lines.all()) == envelope.total


def test_budget_line_refused_when_lines_would_exceed_the_envelope(envelope):
    services.budget_line_create(
        envelope=envelope, financial_year="2025/26", category="laptop", amount=Decimal("46763000")
    )

    with pytest.raises(DomainError, match=r"£0.01 more than the envelope's £46,763,000.00"):
        services.budget_line_create(
            envelope=envelope, financial_year="2026/27", category="laptop", amount=Decimal("0.01")
        )
    assert envelope.budget_lines.count() == 1


def test_budget_line_refused_for_a_badly_written_financial_year(envelope):
    with pytest.raises(Exception, match="financial year"):
        services.budget_line_create(
            envelope=envelope, financial_year="2025/27", category="laptop", amount=Decimal("1")
        )


@pytest.fixture
def two_lines(envelope):
    a = services.budget_line_create(
        envelope=envelope, financial_year="2025/26", category="laptop", amount=Decimal("1000")
    )
    b = services.budget_line_create(
        envelope=envelope, financial_year="2025/26", category="monitor", amount=Decimal("500")
    )
    return a, b


def test_owner_role_moves_money_between_lines_within_the_total(two_lines, finance_officer):
    laptops, monitors = two_lines

    transfer = services.budget_transfer_make(
        from_line=laptops,
        to_line=monitors,
        amount=Decimal("250"),
        reason="More monitors",
        made_by=finance_officer,
    )

    assert BudgetLine.objects.get(pk=laptops.pk).amount == Decimal("750")
    assert BudgetLine.objects.get(pk=monitors.pk).amount == Decimal("750")
    assert transfer.made_by == finance_officer
    assert BudgetTransfer.objects.count() == 1


@pytest.mark.parametrize("role", [Role.ASSET_MANAGER, Role.COMMERCIAL, Role.UNIT_VIEWER])
def test_transfer_refused_for_anyone_outside_the_owner_role(two_lines, role):
    laptops, monitors = two_lines

    with pytest.raises(DomainError, match="Only the envelope owner"):
        services.budget_transfer_make(
            from_line=laptops,
            to_line=monitors,
            amount=Decimal("1"),
            reason="x",
            made_by=UserFactory(role=role),
        )
    assert BudgetLine.objects.get(pk=laptops.pk).amount == Decimal("1000")
    assert not BudgetTransfer.objects.exists()


def test_transfer_refused_when_it_would_take_committed_money(
    laptop_line,
    envelope,
    finance_officer,
    thresholds,
    authorities,
    make_order,
    commercial_officer,
    call_off,
):
    # Given a £1m laptop line with £800,000 committed
    monitors = services.budget_line_create(
        envelope=envelope, financial_year="2025/26", category="monitor", amount=Decimal("500")
    )
    order = make_order("800000.00", contract=call_off)
    recorder = UserFactory(role=Role.COMMERCIAL)  # not the approver (separation of duties)
    for kind in ("compliant_route", "dmpc"):
        services.approval_record_add(
            purchase_order=order, kind=kind, reference="ref", recorded_by=recorder
        )
    approve_on(order, commercial_officer, dt.date(2025, 6, 2))

    # When £300,000 is moved away, Then it is refused and nothing moves
    with pytest.raises(DomainError, match=r"£200,000.00 uncommitted.*£100,000.00 short"):
        services.budget_transfer_make(
            from_line=laptop_line,
            to_line=monitors,
            amount=Decimal("300000"),
            reason="x",
            made_by=finance_officer,
        )
    assert BudgetLine.objects.get(pk=laptop_line.pk).amount == Decimal("1000000")


def test_transfer_refused_for_a_non_positive_amount(two_lines, finance_officer):
    laptops, monitors = two_lines
    with pytest.raises(DomainError, match="positive"):
        services.budget_transfer_make(
            from_line=laptops,
            to_line=monitors,
            amount=Decimal("0"),
            reason="x",
            made_by=finance_officer,
        )


def _new_contract(envelope, supplier, reference, value, start, end):
    return services.contract_create(
        envelope=envelope,
        supplier=supplier,
        reference=reference,
        title="Direct award",
        route=Contract.Route.NEW_CONTRACT,
        value_ceiling=Decimal(value),
        start_date=start,
        end_date=end,
    )


def test_new_contracts_may_total_exactly_25m(envelope, supplier):
    start, end = dt.date(2025, 4, 1), dt.date(2027, 3, 31)
    _new_contract(envelope, supplier, "NC-1", "15000000", start, end)
    _new_contract(envelope, supplier, "NC-2", "10000000", start, end)

    assert Contract.objects.count() == 2


def test_new_contract_refused_when_new_contracts_would_exceed_25m(envelope, supplier):
    start, end = dt.date(2025, 4, 1), dt.date(2027, 3, 31)
    _new_contract(envelope, supplier, "NC-1", "15000000", start, end)

    with pytest.raises(DomainError, match=r"£25,000,000.01, £0.01 over the £25,000,000.00"):
        _new_contract(envelope, supplier, "NC-2", "10000000.01", start, end)
    assert Contract.objects.count() == 1


def test_call_offs_do_not_count_towards_the_new_contract_limit(envelope, supplier, call_off):
    _new_contract(envelope, supplier, "NC-1", "25000000", dt.date(2025, 4, 1), dt.date(2026, 3, 31))

    assert Contract.objects.count() == 2


def test_new_contract_may_last_exactly_four_years(envelope, supplier):
    contract = _new_contract(
        envelope, supplier, "NC-1", "1000", dt.date(2025, 4, 1), dt.date(2029, 3, 31)
    )

    assert contract.pk


def test_new_contract_refused_a_day_over_four_years(envelope, supplier):
    with pytest.raises(DomainError, match=r"must end by 31 March 2029, 1 days before"):
        _new_contract(envelope, supplier, "NC-1", "1000", dt.date(2025, 4, 1), dt.date(2029, 4, 1))
    assert not Contract.objects.exists()


def test_call_off_must_name_its_framework(envelope, supplier):
    with pytest.raises(DomainError, match="must name the framework"):
        services.contract_create(
            envelope=envelope,
            supplier=supplier,
            reference="CO-1",
            title="x",
            route=Contract.Route.CALL_OFF,
            value_ceiling=Decimal("1"),
            start_date=dt.date(2025, 4, 1),
            end_date=dt.date(2026, 3, 31),
        )
