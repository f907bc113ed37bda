"""The procurement API: reads with commercial fields only for commercial roles,
create/submit/approve with role checks, and constant query counts on lists."""

import datetime as dt
from decimal import Decimal

import pytest
from freezegun import freeze_time
from rest_framework.test import APIClient

from accounts.roles import Role
from procurement import services
from procurement.models import PurchaseOrder
from tests.factories import BusinessUnitFactory, UserFactory
from tests.procurement.conftest import approve_on, award

pytestmark = pytest.mark.usefixtures("thresholds", "authorities")
BASE = "/api/v1/procurement"


def _client(role, **kwargs):
    client = APIClient()
    user = UserFactory(role=role, **kwargs)
    client.force_authenticate(user)
    return client, user


@pytest.fixture
def approved_order(make_order, commercial_officer):
    order = make_order("12345.67")
    approve_on(order, commercial_officer, dt.date(2025, 6, 2))
    return order


def test_envelope_position_for_finance_carries_figures_and_marking(approved_order):
    client, _ = _client(Role.FINANCE)

    response = client.get(f"{BASE}/envelope-position/")

    assert response.status_code == 200
    assert response["X-Classification"] == "OFFICIAL-SENSITIVE [COMMERCIAL]"
    body = response.json()
    assert body["classification"] == "OFFICIAL-SENSITIVE [COMMERCIAL]"
    assert Decimal(body["total"]) == Decimal("46763000.00")
    laptop = next(r for r in body["rows"] if r["category"] == "laptop")
    assert Decimal(laptop["committed"]) == Decimal("12345.67")
    assert Decimal(laptop["headroom"]) == Decimal("1000000") - Decimal("12345.67")


@pytest.mark.parametrize("path", ["envelope-position/", "budget-lines/"])
def test_commercial_reads_refused_to_asset_managers(path, approved_order):
    client, _ = _client(Role.ASSET_MANAGER)

    response = client.get(f"{BASE}/{path}")

    assert response.status_code == 403
    assert response.json()["error"]["status"] == 403


def test_purchase_orders_for_asset_managers_carry_no_money(approved_order):
    client, _ = _client(Role.ASSET_MANAGER)

    body = client.get(f"{BASE}/purchase-orders/").json()

    order = body["results"][0]
    assert order["reference"] == approved_order.reference
    assert "gross_total" not in order and "committed_total" not in order
    assert "unit_price" not in order["lines"][0] and order["lines"][0]["quantity"] == 1


def test_purchase_orders_for_finance_carry_the_totals(approved_order):
    client, _ = _client(Role.FINANCE)

    order = client.get(f"{BASE}/purchase-orders/{approved_order.pk}/").json()

    assert Decimal(order["gross_total"]) == Decimal("12345.67")
    assert "unit_price" in order["lines"][0]


def test_contract_values_absent_for_asset_managers(call_off):
    client, _ = _client(Role.ASSET_MANAGER)

    contract = client.get(f"{BASE}/contracts/").json()["results"][0]

    assert contract["reference"] == call_off.reference
    assert "value_ceiling" not in contract


def test_purchase_order_outside_scope_is_a_404(approved_order):
    client, _ = _client(Role.FINANCE, units=[BusinessUnitFactory()])

    assert client.get(f"{BASE}/purchase-orders/{approved_order.pk}/").status_code == 404


# Approved at a door (no back-dating): on a day when the 2025/26 line is open.
@freeze_time("2025-06-02 12:00:00")
def test_create_submit_and_approve_through_the_api(laptop_line, supplier, unit, laptop_model):
    # Given a finance officer raises and submits an order
    finance, _ = _client(Role.FINANCE)
    response = finance.post(
        f"{BASE}/purchase-orders/",
        {
            "budget_line": laptop_line.pk,
            "supplier": supplier.pk,
            "business_unit": unit.pk,
            "lines": [{"device_model": laptop_model.pk, "quantity": 3, "unit_price": "100.00"}],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    pk = response.json()["id"]
    assert Decimal(response.json()["gross_total"]) == Decimal("360.00")
    assert finance.post(f"{BASE}/purchase-orders/{pk}/submit/").json()["status"] == "submitted"

    # When an asset manager tries to approve, Then 403
    manager, _ = _client(Role.ASSET_MANAGER)
    assert manager.post(f"{BASE}/purchase-orders/{pk}/approve/").status_code == 403

    # When the raiser approves their own order, Then a clear 400
    refused = finance.post(f"{BASE}/purchase-orders/{pk}/approve/")
    assert refused.status_code == 400
    assert "cannot approve" in refused.json()["error"]["message"]

    # When a commercial officer approves, Then it is committed
    commercial, _ = _client(Role.COMMERCIAL)
    approved = commercial.post(f"{BASE}/purchase-orders/{pk}/approve/")
    assert approved.status_code == 200
    assert approved.json()["status"] == "approved"
    assert PurchaseOrder.objects.get(pk=pk).committed_total == Decimal("360.00")


# Approved at a door (no back-dating): on a day when the 2025/26 line is open.
@freeze_time("2025-06-02 12:00:00")
def test_approval_over_the_line_is_a_400_saying_by_how_much(make_order, laptop_line):
    order = make_order("1000000.01")
    client, _ = _client(Role.COMMERCIAL)
    # Recorded by another commercial officer: a recorder may not approve the order.
    recorder, _ = _client(Role.COMMERCIAL)
    for kind in ("compliant_route", "dmpc"):
        recorder.post(
            f"{BASE}/purchase-orders/{order.pk}/approval-records/",
            {"kind": kind, "reference": "X-1"},
            format="json",
        )
    from procurement.models import Contract

    contract = services.contract_create(
        envelope=laptop_line.envelope,
        supplier=order.supplier,
        reference="NC-API",
        title="New",
        route=Contract.Route.NEW_CONTRACT,
        value_ceiling=Decimal("2000000"),
        start_date=dt.date(2024, 1, 1),
        end_date=dt.date(2027, 12, 31),
    )
    award(contract)
    PurchaseOrder.objects.filter(pk=order.pk).update(contract=contract)

    response = client.post(f"{BASE}/purchase-orders/{order.pk}/approve/")

    assert response.status_code == 400
    assert "would exceed the 2025/26 laptop line by £0.01" in response.json()["error"]["message"]


def test_create_refused_for_asset_managers(laptop_line, supplier, unit, laptop_model):
    client, _ = _client(Role.ASSET_MANAGER)

    response = client.post(
        f"{BASE}/purchase-orders/",
        {
            "budget_line": laptop_line.pk,
            "supplier": supplier.pk,
            "business_unit": unit.pk,
            "lines": [{"device_model": laptop_model.pk, "quantity": 1, "unit_price": "1.00"}],
        },
        format="json",
    )

    assert response.status_code == 403
    assert not PurchaseOrder.objects.exists()


@pytest.mark.parametrize("path", ["purchase-orders/", "contracts/", "budget-lines/"])
def test_api_lists_run_a_constant_number_of_queries(
    path, django_assert_num_queries, make_order, call_off, envelope
):
    client, _ = _client(Role.FINANCE)
    make_order("10.00", contract=call_off)
    client.get(f"{BASE}/{path}")  # warm the role and scope caches' code paths

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        client.get(f"{BASE}/{path}")
    few = len(ctx.captured_queries)
    for n in range(5):
        make_order("10.00", contract=call_off)
        services.budget_line_create(
            envelope=envelope,
            financial_year=f"{2030 + n}/{31 + n}",
            category="laptop",
            amount=Decimal("1"),
        )
    # Queries: roles, scope, the page (one query with joins and aggregates), and for
    # orders one prefetch each of lines and approval records: the same for 1 or 6 rows.
    with django_assert_num_queries(few):
        response = client.get(f"{BASE}/{path}")
    assert len(response.json()["results"]) >= 6 or path == "contracts/"


def _schema():
    import json

    from drf_spectacular.generators import SchemaGenerator
    from openapi_core import OpenAPI
    from rest_framework.renderers import JSONRenderer

    schema = SchemaGenerator().get_schema(request=None, public=True)
    return OpenAPI.from_dict(json.loads(JSONRenderer().render(schema)))


@pytest.mark.parametrize("role", [Role.FINANCE, Role.ASSET_MANAGER])
def test_responses_match_the_openapi_schema(role, approved_order, call_off):
    from openapi_core.testing import MockRequest, MockResponse

    openapi = _schema()
    client, _ = _client(role)
    paths = ["purchase-orders/", f"purchase-orders/{approved_order.pk}/", "contracts/"]
    if role == Role.FINANCE:
        paths += ["envelope-position/", "budget-lines/"]
    for path in paths:
        response = client.get(f"{BASE}/{path}")
        assert response.status_code == 200, path
        request = MockRequest(
            "http://testserver",
            "get",
            f"{BASE}/{path}",
            headers={"Authorization": "Token forced"},
        )
        openapi.validate_response(
            request,
            MockResponse(response.content, status_code=200, content_type="application/json"),
        )
