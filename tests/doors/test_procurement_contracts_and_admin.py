"""Contracts within their delegation and framework (rule 3), unlimited approval
authority only as a recorded decision (rule 5) and an admin that writes only through
the services (rule 8), tried at the service, the page POST and the admin."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from freezegun import freeze_time

from accounts.roles import Role
from core.errors import DomainError
from procurement import services
from procurement.models import (
    ApprovalAuthority,
    ApprovalRecord,
    BudgetTransfer,
    CapitalEnvelope,
    Contract,
    ContractAward,
    ProcurementThreshold,
    PurchaseOrder,
)
from tests.procurement.doors_support import (
    OPEN_DAY,
    build_world,
    raise_order,
    record,
)


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture(autouse=True)
def _clock():
    with freeze_time(OPEN_DAY):
        yield


@pytest.fixture
def admin_client(db):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


# --- rule 3: call-offs within their framework; new contracts within £25m and 4 years -------

CONTRACT_CASES = {
    # name: (fields, field named, message fragment)
    "call-off-500m-10-years": (
        {
            "route": Contract.Route.CALL_OFF,
            "value_ceiling": "500000000.00",
            "start_date": "2025-04-01",
            "end_date": "2035-03-31",
        },
        "value_ceiling",
        "exceeds its framework's ceiling",
    ),
    "call-off-outlasts-framework": (
        {
            "route": Contract.Route.CALL_OFF,
            "value_ceiling": "1000000.00",
            "start_date": "2025-04-01",
            "end_date": "2028-04-01",
        },
        "end_date",
        "outlasts its framework",
    ),
    "new-contract-over-25m": (
        {
            "route": Contract.Route.NEW_CONTRACT,
            "value_ceiling": "25000000.01",
            "start_date": "2025-04-01",
            "end_date": "2027-03-31",
        },
        "value_ceiling",
        "£25,000,000.00 limit",
    ),
    "new-contract-over-4-years": (
        {
            "route": Contract.Route.NEW_CONTRACT,
            "value_ceiling": "1000000.00",
            "start_date": "2025-04-01",
            "end_date": "2029-04-01",
        },
        "end_date",
        "at most 48 months",
    ),
}
FRAMEWORK = {
    "framework_name": "CCS Technology Products & Associated Services 2",
    "framework_reference": "RM6098",
    "ordering_process_followed": "on",
    "framework_ceiling": "300000000.00",
    "framework_end_date": "2028-03-31",
}


def _contract_data(world, fields):
    data = {
        "supplier": world.supplier.pk,
        "reference": "NEW-REF-1",
        "title": "Tried at a door",
        **fields,
    }
    if fields["route"] == Contract.Route.CALL_OFF:
        data.update(FRAMEWORK)
    return data


def _create_contract_through(door, world, admin_client, fields):
    data = _contract_data(world, fields)
    if door == "service":
        try:
            services.contract_create(
                envelope=world.envelope,
                supplier=world.supplier,
                reference=data["reference"],
                title=data["title"],
                route=data["route"],
                value_ceiling=Decimal(data["value_ceiling"]),
                start_date=dt.date.fromisoformat(data["start_date"]),
                end_date=dt.date.fromisoformat(data["end_date"]),
                framework_name=data.get("framework_name", ""),
                framework_reference=data.get("framework_reference", ""),
                ordering_process_followed=bool(data.get("ordering_process_followed")),
                framework_ceiling=(
                    Decimal(data["framework_ceiling"]) if data.get("framework_ceiling") else None
                ),
                framework_end_date=(
                    dt.date.fromisoformat(data["framework_end_date"])
                    if data.get("framework_end_date")
                    else None
                ),
            )
        except DomainError as exc:
            return exc.field, exc.message
        return "ok", ""
    if door == "page":
        client = Client()
        client.force_login(world.commercial)
        response = client.post(reverse("procurement:contract_create"), data)
    else:
        response = admin_client.post(
            reverse("admin:procurement_contract_add"),
            {**data, "envelope": world.envelope.pk},
            follow=True,
        )
    body = response.content.decode().replace("&#x27;", "'")
    return ("ok", "") if response.status_code == 302 else ("refused", body)


@pytest.mark.parametrize(
    "door,case",
    [(door, case) for case in CONTRACT_CASES for door in ("service", "page", "admin")],
    ids=[
        f"rule3-{case}-{door}" for case in CONTRACT_CASES for door in ("service", "page", "admin")
    ],
)
def test_contracts_beyond_their_framework_or_delegation_are_refused(
    world, admin_client, door, case
):
    fields, field, fragment = CONTRACT_CASES[case]
    before = Contract.objects.count()

    got, message = _create_contract_through(door, world, admin_client, fields)

    assert got != "ok", f"{case} accepted at the {door}"
    if door == "service":
        assert got == field
    if door != "admin":  # the admin's form may refuse first, on the model's CHECK
        assert fragment in message, message
    assert Contract.objects.count() == before


# --- rule 5: an unlimited authority is an explicit, recorded decision ------------------------


def test_unlimited_authority_without_a_decision_is_refused_by_the_service(world):
    before = ApprovalAuthority.objects.count()

    with pytest.raises(DomainError, match="must name the decision") as refused:
        services.approval_authority_set(
            role=Role.COMMERCIAL.value, limit=None, effective_from=dt.date(2025, 7, 1)
        )

    assert refused.value.code == "unlimited_needs_decision"
    assert ApprovalAuthority.objects.count() == before


def test_unlimited_authority_without_a_decision_is_refused_by_the_admin(world, admin_client):
    before = ApprovalAuthority.objects.count()

    response = admin_client.post(
        reverse("admin:procurement_approvalauthority_add"),
        {"role": Role.COMMERCIAL.value, "limit": "", "effective_from": "2025-07-01"},
        follow=True,
    )

    assert "decision" in response.content.decode()
    assert ApprovalAuthority.objects.count() == before


def test_the_admin_adds_a_dated_authority_through_the_service(world, admin_client):
    response = admin_client.post(
        reverse("admin:procurement_approvalauthority_add"),
        {"role": Role.FINANCE.value, "limit": "150000.00", "effective_from": "2025-07-01"},
    )

    assert response.status_code == 302
    row = ApprovalAuthority.objects.get(role=Role.FINANCE.value, effective_from="2025-07-01")
    assert row.recorded_by.username == "root" and row.recorded_at is not None


def test_the_defaults_give_no_role_unlimited_authority(world):
    rows = ApprovalAuthority.objects.all()
    assert {r.role: r.limit for r in rows} == {
        Role.FINANCE.value: Decimal("213476.99"),
        Role.COMMERCIAL.value: Decimal("25000000.00"),
    }
    # Running it again adds nothing.
    assert services.approval_authorities_default_ensure(effective_from=dt.date(2024, 1, 1)) == []


# --- rule 8: the admin writes only through the services -----------------------------------


@pytest.fixture
def records(world):
    """One row of each kind the admin must not edit."""
    order = raise_order(world, "213477.00", contract=world.call_off)
    approval = record(world, order, ApprovalRecord.Kind.COMPLIANT_ROUTE)
    transfer = services.budget_transfer_make(
        from_line=world.line,
        to_line=world.next_line,
        amount=Decimal("10.00"),
        reason="Reprofile",
        made_by=world.owner,
    )
    return {
        "approvalrecord": approval,
        "budgettransfer": transfer,
        "contractaward": world.call_off.award,
        "purchaseorder": order,
        "procurementthreshold": ProcurementThreshold.objects.order_by("pk").first(),
        "approvalauthority": ApprovalAuthority.objects.order_by("pk").first(),
        "capitalenvelope": world.envelope,
        "budgetline": world.line,
    }


EDITS = {
    "approvalrecord": {"reference": "CHANGED", "kind": "dmpc"},
    "budgettransfer": {"amount": "999999.00", "reason": "changed"},
    "contractaward": {"compliant_route": "changed", "dsp_consent_reference": "X"},
    "purchaseorder": {"status": "approved", "committed_total": "213477.00", "description": "x"},
    "procurementthreshold": {
        "kind": "regulations",
        "amount": "1.00",
        "effective_from": "2024-01-01",
    },
    "approvalauthority": {"role": Role.FINANCE.value, "limit": "", "effective_from": "2024-01-01"},
    "capitalenvelope": {"name": "x", "total": "99999999.00", "decision_reference": "x"},
    "budgetline": {"amount": "46763000.00"},
}


def _snapshot(obj):
    fresh = type(obj).objects.get(pk=obj.pk)
    return {f.attname: getattr(fresh, f.attname) for f in fresh._meta.concrete_fields}


@pytest.mark.parametrize("model", list(EDITS), ids=[f"rule8-edit-{m}-admin" for m in EDITS])
def test_the_admin_cannot_edit_money_records_or_dated_rules(records, admin_client, model):
    obj = records[model]
    before = _snapshot(obj)

    response = admin_client.post(
        reverse(f"admin:procurement_{model}_change", args=[obj.pk]), EDITS[model]
    )

    assert response.status_code == 403
    assert _snapshot(obj) == before


@pytest.mark.parametrize("model", list(EDITS), ids=[f"rule8-delete-{m}-admin" for m in EDITS])
def test_the_admin_cannot_delete_them(records, admin_client, model):
    obj = records[model]

    response = admin_client.post(
        reverse(f"admin:procurement_{model}_delete", args=[obj.pk]), {"post": "yes"}
    )

    assert response.status_code == 403
    assert type(obj).objects.filter(pk=obj.pk).exists()


def test_the_admin_adds_a_threshold_through_the_service_and_refuses_a_duplicate_date(
    world, admin_client
):
    url = reverse("admin:procurement_procurementthreshold_add")
    data = {"kind": "regulations", "amount": "250000.00", "effective_from": "2026-01-01"}

    assert admin_client.post(url, data).status_code == 302
    again = admin_client.post(url, {**data, "amount": "1.00"})

    assert again.status_code == 200  # the form, with the error
    assert ProcurementThreshold.objects.filter(effective_from="2026-01-01").count() == 1
    assert ProcurementThreshold.objects.get(effective_from="2026-01-01").amount == Decimal(
        "250000.00"
    )


def test_nothing_else_is_addable_in_the_admin(records, admin_client):
    for model in ("approvalrecord", "budgettransfer", "contractaward", "purchaseorder", "receipt"):
        response = admin_client.post(reverse(f"admin:procurement_{model}_add"), {})
        assert response.status_code == 403, model
    assert PurchaseOrder.objects.count() == 1
    assert BudgetTransfer.objects.count() == 1
    assert ContractAward.objects.count() == 1
    assert CapitalEnvelope.objects.count() == 1
