"""The refresh API: scope, commercial fields, cursor pagination, query counts."""

import datetime as dt
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from accounts.roles import Role
from devices.models import Device
from refresh import services
from tests.factories import BusinessUnitFactory, DeviceFactory, PersonFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def units(policies):
    north, south = BusinessUnitFactory(code="NORTH"), BusinessUnitFactory(code="SOUTH")
    return north, south


def add(unit, n):
    return [
        DeviceFactory(
            business_unit=unit,
            status=Device.Status.DEPLOYED,
            assigned_to=PersonFactory(business_unit=unit),
            purchase_date=dt.date(2019, 1, 1),
        )
        for _ in range(n)
    ]


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.parametrize("extra", [0, 6])
def test_eligibility_list_is_scoped_and_its_queries_constant(
    make_user, units, django_assert_num_queries, extra
):
    north, south = units
    add(north, 2 + extra)
    add(south, 3)
    services.eligibility_recompute()
    client = api(make_user(Role.UNIT_VIEWER, units=[north]))
    # scope (unit_scopes; a scoped user needs no role lookup), the page of rows with one join
    with django_assert_num_queries(2):
        response = client.get("/api/v1/refresh/eligibility/")
    assert response.status_code == 200
    assert {r["business_unit"] for r in response.json()["results"]} == {"NORTH"}
    assert len(response.json()["results"]) == 2 + extra


def test_eligibility_list_cursor_pages_through_everything(make_user, units):
    add(units[0], 5)
    services.eligibility_recompute()
    client = api(make_user(Role.ASSET_MANAGER))
    url, seen = "/api/v1/refresh/eligibility/?page_size=2&due=true", []
    while url:
        body = client.get(url).json()
        seen += [r["device_id"] for r in body["results"]]
        url = body["next"]
    assert len(seen) == len(set(seen)) == 5


def test_eligibility_for_one_device_and_404_outside_scope(make_user, units):
    north, south = units
    mine, theirs = add(north, 1)[0], add(south, 1)[0]
    services.eligibility_recompute()
    client = api(make_user(Role.UNIT_VIEWER, units=[north]))
    body = client.get(f"/api/v1/refresh/eligibility/{mine.pk}/").json()
    assert body["is_due"] is True
    assert "Age" in body["reasons"]
    assert client.get(f"/api/v1/refresh/eligibility/{theirs.pk}/").status_code == 404


def test_eligibility_filters_and_bad_filter_errors(make_user, units):
    north, south = units
    add(north, 2)
    add(south, 1)
    services.eligibility_recompute()
    client = api(make_user(Role.ASSET_MANAGER))
    body = client.get(f"/api/v1/refresh/eligibility/?business_unit={south.pk}").json()
    assert [r["business_unit"] for r in body["results"]] == ["SOUTH"]
    bad = client.get("/api/v1/refresh/eligibility/?category=toaster")
    assert bad.status_code == 400
    assert "category" in bad.content.decode()


@pytest.mark.parametrize("extra", [0, 4])
def test_forecast_shows_cost_only_to_finance_and_queries_are_constant(
    make_user, units, django_assert_num_queries, extra
):
    add(units[0], 2 + extra)
    services.bau_rate_save(category="laptop", planning_unit_price=Decimal("1000.00"))
    services.eligibility_recompute()
    manager = (
        api(make_user(Role.ASSET_MANAGER))
        .get("/api/v1/refresh/forecast/?from=2026/27&years=1")
        .json()
    )
    assert manager["classification"] == "OFFICIAL"
    assert all("cost" not in r for r in manager["results"])
    client = api(make_user(Role.FINANCE))
    # roles, scope, the one grouped eligibility query (refresh and devices in use),
    # headcount, people per unit, BAU rates, catalogue prices, planning prices
    with django_assert_num_queries(8):
        body = client.get("/api/v1/refresh/forecast/?from=2026/27&years=1").json()
    assert body["classification"] == "OFFICIAL-SENSITIVE [COMMERCIAL]"
    laptop = next(r for r in body["results"] if r["category"] == "laptop")
    assert Decimal(laptop["cost"]) == Decimal("1000.00") * laptop["volume"]


def test_forecast_rejects_a_bad_year(make_user):
    response = api(make_user(Role.FINANCE)).get("/api/v1/refresh/forecast/?from=2025")
    assert response.status_code == 400
    assert "from" in response.content.decode()


def _openapi():
    import json

    from drf_spectacular.generators import SchemaGenerator
    from openapi_core import OpenAPI
    from rest_framework.renderers import JSONRenderer

    schema = SchemaGenerator().get_schema(request=None, public=True)
    return OpenAPI.from_dict(json.loads(JSONRenderer().render(schema)))


@pytest.mark.parametrize("role", [Role.FINANCE, Role.ASSET_MANAGER])
def test_refresh_responses_match_the_openapi_schema(make_user, units, role):
    from openapi_core.testing import MockRequest, MockResponse

    device = add(units[0], 2)[0]
    services.eligibility_recompute()
    openapi = _openapi()
    client = api(make_user(role))
    for path in [
        "/api/v1/refresh/eligibility/",
        f"/api/v1/refresh/eligibility/{device.pk}/",
        "/api/v1/refresh/forecast/",
    ]:
        response = client.get(path)
        assert response.status_code == 200, path
        openapi.validate_response(
            MockRequest("http://testserver", "get", path, headers={"Authorization": "Token x"}),
            MockResponse(response.content, status_code=200, content_type="application/json"),
        )
