"""Procurement's rules in the database, the door every other one ends at: CHECK
constraints (a plain ``save()`` or raw SQL that bypasses the services), PostgreSQL
append-only triggers, and the supplier lock that keeps concurrent approvals from
both slipping under a threshold."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from freezegun import freeze_time

from procurement import services
from procurement.models import (
    ApprovalAuthority,
    ApprovalRecord,
    CapitalEnvelope,
    Contract,
    ContractAward,
    PurchaseOrder,
)
from procurement.services import orders as order_services
from tests.procurement.doors_support import (
    OPEN_DAY,
    build_world,
    raise_order,
    record,
)


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def new_contract(world):
    contract = services.contract_create(
        envelope=world.envelope,
        supplier=world.supplier,
        reference="NC-1",
        title="Monitors",
        route=Contract.Route.NEW_CONTRACT,
        value_ceiling=Decimal("4000000.00"),
        start_date=dt.date(2025, 4, 1),
        end_date=dt.date(2029, 3, 31),
    )
    return contract


def _refused_by_the_database(statement, params, *, table, pk):
    """Run raw SQL in a savepoint; it must fail and leave the row as it was."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} WHERE id = %s", [pk])  # noqa: S608
        before = cursor.fetchall()
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, params)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} WHERE id = %s", [pk])  # noqa: S608
        assert cursor.fetchall() == before


# --- CHECK constraints (every database) --------------------------------------------------


def test_raising_a_new_contracts_ceiling_to_40m_by_a_plain_save_fails(new_contract):
    new_contract.value_ceiling = Decimal("40000000.00")

    with pytest.raises(IntegrityError), transaction.atomic():
        new_contract.save()

    assert Contract.objects.get(pk=new_contract.pk).value_ceiling == Decimal("4000000.00")


SQL_CASES = {
    "new-contract-over-25m": (
        "UPDATE procurement_contract SET value_ceiling = 25000000.01 WHERE id = %s",
        "new_contract",
    ),
    "ceiling-not-positive": (
        "UPDATE procurement_contract SET value_ceiling = 0 WHERE id = %s",
        "new_contract",
    ),
    "ends-before-start": (
        "UPDATE procurement_contract SET end_date = '2025-03-31' WHERE id = %s",
        "new_contract",
    ),
    "call-off-over-framework-ceiling": (
        "UPDATE procurement_contract SET value_ceiling = 300000000.01 WHERE id = %s",
        "call_off",
    ),
    "call-off-after-framework-end": (
        "UPDATE procurement_contract SET end_date = '2028-04-01' WHERE id = %s",
        "call_off",
    ),
    "call-off-without-framework-ceiling": (
        "UPDATE procurement_contract SET framework_ceiling = NULL WHERE id = %s",
        "call_off",
    ),
}


@pytest.mark.parametrize("case", list(SQL_CASES), ids=[f"rule3-{c}-sql" for c in SQL_CASES])
def test_contract_checks_hold_against_raw_sql(world, new_contract, case):
    statement, which = SQL_CASES[case]
    contract = new_contract if which == "new_contract" else world.call_off

    _refused_by_the_database(statement, [contract.pk], table="procurement_contract", pk=contract.pk)


def test_an_envelope_cannot_be_given_a_looser_delegation_than_the_business_case(world):
    _refused_by_the_database(
        "UPDATE procurement_capitalenvelope SET new_contract_limit = 30000000 WHERE id = %s",
        [world.envelope.pk],
        table="procurement_capitalenvelope",
        pk=world.envelope.pk,
    )
    _refused_by_the_database(
        "UPDATE procurement_capitalenvelope SET new_contract_max_term_months = 60 WHERE id = %s",
        [world.envelope.pk],
        table="procurement_capitalenvelope",
        pk=world.envelope.pk,
    )


def test_an_unlimited_authority_without_a_decision_is_refused_by_the_database(world):
    row = ApprovalAuthority.objects.order_by("pk").first()
    _refused_by_the_database(
        "UPDATE procurement_approvalauthority SET \"limit\" = NULL, decision_reference = '' "
        "WHERE id = %s",
        [row.pk],
        table="procurement_approvalauthority",
        pk=row.pk,
    )
    before = ApprovalAuthority.objects.count()
    with pytest.raises(IntegrityError), transaction.atomic():
        ApprovalAuthority.objects.create(
            role="Commercial officers", limit=None, effective_from=dt.date(2025, 7, 1)
        )
    assert ApprovalAuthority.objects.count() == before


def test_a_called_in_award_without_the_dmpc_decision_is_refused_by_the_database(world):
    award = world.call_off.award
    # (On PostgreSQL the append-only trigger refuses the UPDATE before the CHECK does;
    # the INSERT below shows the CHECK on every database.)
    _refused_by_the_database(
        "UPDATE procurement_contractaward SET dmpc_called_in = TRUE, "
        "dmpc_decision_reference = '' WHERE id = %s",
        [award.pk],
        table="procurement_contractaward",
        pk=award.pk,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        ContractAward.objects.create(
            contract=services.contract_create(
                envelope=world.envelope,
                supplier=world.supplier,
                reference="NC-CALLED-IN",
                title="Called in",
                route=Contract.Route.NEW_CONTRACT,
                value_ceiling=Decimal("1000000.00"),
                start_date=dt.date(2025, 4, 1),
                end_date=dt.date(2026, 3, 31),
            ),
            compliant_route="Open procedure",
            dsp_consent_reference="DSP-9",
            dsp_consent_on=dt.date(2025, 3, 1),
            awarded_on=dt.date(2025, 3, 2),
            dmpc_notified_on=dt.date(2025, 2, 1),
            dmpc_called_in=True,
            dmpc_decision_reference="",
            recorded_by=world.commercial,
            recorded_at=dt.datetime(2025, 3, 2, tzinfo=dt.UTC),
        )
    assert ContractAward.objects.count() == 1


# --- PostgreSQL only: the term CHECK and the append-only triggers ------------------------


@pytest.mark.postgres
def test_a_new_contract_longer_than_48_months_is_refused_by_postgresql(new_contract):
    # 1 April 2025 + 48 months = 1 April 2029: the last allowed end is 31 March 2029.
    _refused_by_the_database(
        "UPDATE procurement_contract SET end_date = '2029-04-01' WHERE id = %s",
        [new_contract.pk],
        table="procurement_contract",
        pk=new_contract.pk,
    )


@pytest.fixture
def append_only_rows(world):
    order = raise_order(world, "213477.00", contract=world.call_off)
    approval = record(world, order, ApprovalRecord.Kind.COMPLIANT_ROUTE)
    transfer = services.budget_transfer_make(
        from_line=world.line,
        to_line=world.next_line,
        amount=Decimal("10.00"),
        reason="Reprofile",
        made_by=world.owner,
    )
    history = order.history.order_by("history_id").first()
    return {
        "procurement_approvalrecord": (approval.pk, "reference = 'CHANGED'"),
        "procurement_budgettransfer": (transfer.pk, "amount = 1"),
        "procurement_contractaward": (world.call_off.award.pk, "compliant_route = 'x'"),
        "procurement_historicalpurchaseorder": (history.history_id, "status = 'approved'"),
        "procurement_historicalcontract": (
            world.call_off.history.order_by("history_id").first().history_id,
            "value_ceiling = 1",
        ),
        "procurement_historicalapprovalauthority": (
            ApprovalAuthority.history.order_by("history_id").first().history_id,
            "\"limit\" = NULL, decision_reference = 'x'",
        ),
    }


TABLES = [
    "procurement_approvalrecord",
    "procurement_budgettransfer",
    "procurement_contractaward",
    "procurement_historicalpurchaseorder",
    "procurement_historicalcontract",
    "procurement_historicalapprovalauthority",
]


@pytest.mark.postgres
@pytest.mark.parametrize("table", TABLES, ids=[f"rule7-update-{t}-sql" for t in TABLES])
def test_append_only_rows_cannot_be_updated(append_only_rows, table):
    pk, assignment = append_only_rows[table]
    key = "history_id" if "historical" in table else "id"

    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"UPDATE {table} SET {assignment} WHERE {key} = %s", [pk])  # noqa: S608


@pytest.mark.postgres
@pytest.mark.parametrize("table", TABLES, ids=[f"rule7-delete-{t}-sql" for t in TABLES])
def test_append_only_rows_cannot_be_deleted(append_only_rows, table):
    pk, _ = append_only_rows[table]
    key = "history_id" if "historical" in table else "id"

    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"DELETE FROM {table} WHERE {key} = %s", [pk])  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table} WHERE {key} = %s", [pk])  # noqa: S608
        assert cursor.fetchone()[0] == 1


# --- PostgreSQL only: concurrent approvals cannot both slip under a threshold ------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_off_contract_approvals_in_two_envelopes_cannot_both_slip_under(
    world, monkeypatch
):
    """Two £110,000 orders to one supplier, laptops, 2025/26, no contract, against two
    envelopes (so the envelope lock does not serialise them): alone each is under
    £213,477; together they are not. Each approval waits, after reading the
    aggregate, for the other: without the supplier lock both read £110,000 and both
    commit; with it the second reads £220,000 and is refused."""
    other = services.capital_envelope_create(
        name="Another envelope", total=Decimal("1000000.00"), decision_reference="X"
    )
    other_line = services.budget_line_create(
        envelope=other, financial_year="2025/26", category="laptop", amount=Decimal("1000000.00")
    )
    orders = [raise_order(world, "110000.00"), raise_order(world, "110000.00", line=other_line)]
    barrier = threading.Barrier(2, timeout=3)
    real = order_services.award_value

    def award_value_then_wait(**kwargs):
        result = real(**kwargs)
        # BrokenBarrierError: the other approval is waiting on the lock; go on alone.
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()
        return result

    monkeypatch.setattr(order_services, "award_value", award_value_then_wait)
    outcomes = []

    def approve(order):
        try:
            services.purchase_order_approve(purchase_order=order, approved_by=world.approver)
            outcomes.append("approved")
        except Exception as exc:  # noqa: BLE001 - recorded and asserted below
            outcomes.append(getattr(exc, "code", repr(exc)))
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(order,)) for order in orders]
    # The service approves today: the clock is set once, here, for both threads
    # (freezegun is not safe to start and stop from several threads).
    with freeze_time(OPEN_DAY):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert sorted(outcomes) == ["approval_missing", "approved"], outcomes
    assert PurchaseOrder.objects.filter(status=PurchaseOrder.Status.APPROVED).count() == 1
    assert CapitalEnvelope.objects.count() == 2
