"""The OpenAPI schema and the docs page. (Every other API test validates its
responses against this schema through tests/api/conftest.py.)"""

import pytest
from django.urls import resolve

from tests.api.conftest import schema_dict

pytestmark = pytest.mark.django_db


def test_schema_is_served_as_openapi_3(client, asset_manager):
    # Signed in: the schema is for signed-in users only (tests/security).
    client.force_login(asset_manager)
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


def test_schema_documents_headers_errors_and_the_bulk_shapes():
    spec = schema_dict()
    paths = spec["paths"]
    create = paths["/api/v1/devices/"]["post"]
    patch = paths["/api/v1/devices/{id}/"]["patch"]
    bulk = paths["/api/v1/devices/bulk/"]["post"]

    assert "Idempotency-Key" in {p["name"] for p in create["parameters"]}
    assert "If-Match" in {p["name"] for p in patch["parameters"]}
    assert "ETag" in patch["responses"]["200"]["headers"]
    assert {"409", "429"} <= set(create["responses"])
    assert "412" in patch["responses"]
    assert bulk["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/BulkResponse"
    )
    assert "error" in spec["components"]["schemas"]["Error"]["properties"]


def test_commercial_fields_are_marked_and_optional_in_the_schema():
    schemas = schema_dict()["components"]["schemas"]
    model = schemas["DeviceModel"]

    assert "COMMERCIAL" in model["properties"]["unit_price"]["description"]
    assert "unit_price" not in model["required"]
    assert "purchase_cost" not in schemas["Device"]["required"]


def test_docs_page_uses_bundled_assets_not_a_cdn(client, asset_manager):
    client.force_login(asset_manager)
    response = client.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn." not in html and "unpkg" not in html


def test_config_urls_mount_the_api_views():
    match = resolve("/api/v1/devices/bulk/")

    assert match.func.cls.__name__ == "DeviceViewSet"
