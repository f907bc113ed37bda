"""The one helper every API test uses: a client whose every call is checked
against the OpenAPI schema drf-spectacular generates from the code.

``api.get/post/patch(...)`` send the request, then validate the response (and,
unless the test sends garbage on purpose, the request) with openapi-core.
"""

from __future__ import annotations

import json
from functools import lru_cache
from urllib.parse import parse_qsl, urlsplit

import pytest
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from rest_framework.test import APIClient

from accounts.roles import Role
from tests.factories import BusinessUnitFactory, DeviceFactory, PersonFactory

HOST = "http://testserver"


@lru_cache(maxsize=1)
def schema_dict() -> dict:
    """The schema drf-spectacular generates for the API's URLs (as /api/schema/ serves it)."""
    from drf_spectacular.generators import SchemaGenerator
    from rest_framework.renderers import JSONRenderer

    schema = SchemaGenerator().get_schema(request=None, public=True)
    # Through JSON so the dict holds plain types (as a client would see it).
    return json.loads(JSONRenderer().render(schema))


@lru_cache(maxsize=1)
def openapi() -> OpenAPI:
    return OpenAPI.from_dict(schema_dict())


class SchemaCheckedClient:
    def __init__(self, user=None, token: str | None = None):
        self.client = APIClient()
        # What the schema validator sees as credentials: the real header, or a stand-in
        # for a test-authenticated user (the schema only checks one is present).
        self.auth_header = {"Authorization": f"Token {token or 'forced-authentication'}"}
        if token:
            self.client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        elif user is not None:
            self.client.force_authenticate(user)

    def _call(
        self,
        method,
        path,
        data=None,
        *,
        raw=None,
        content_type=None,
        headers=None,
        check_request=True,
    ):
        headers = dict(headers or {})
        if raw is not None:
            body = raw if isinstance(raw, bytes) else raw.encode()
            content_type = content_type or "application/json"
        elif data is not None:
            body = json.dumps(data).encode()
            content_type = content_type or "application/json"
        else:
            body, content_type = b"", content_type or "application/json"
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
        if method == "get":
            response = self.client.get(path, **extra)
        else:
            response = getattr(self.client, method)(
                path, data=body, content_type=content_type, **extra
            )
        url = urlsplit(path)
        request = MockRequest(
            HOST,
            method,
            url.path,
            args=dict(parse_qsl(url.query)),
            headers={**self.auth_header, **headers},
            data=body or None,
            content_type=content_type,
        )
        if check_request and method != "get":
            openapi().validate_request(request)
        if response.status_code != 204:
            mock_response = MockResponse(
                response.content,
                status_code=response.status_code,
                headers=dict(response.headers.items()),
                content_type=response.headers.get("Content-Type", "application/json"),
            )
            openapi().validate_response(request, mock_response)
        return response

    def get(self, path, **kwargs):
        return self._call("get", path, **kwargs)

    def post(self, path, data=None, **kwargs):
        return self._call("post", path, data, **kwargs)

    def patch(self, path, data=None, **kwargs):
        return self._call("patch", path, data, **kwargs)


@pytest.fixture
def api_as():
    """``api_as(user)`` or ``api_as(token=key)``: a schema-checked client."""

    def _make(user=None, token=None):
        return SchemaCheckedClient(user=user, token=token)

    return _make


@pytest.fixture
def estate(db):
    """Two directorates: NORTH (with sub-unit NORTH-A) and SOUTH, each with people
    and devices."""

    class Estate:
        pass

    e = Estate()
    e.north = BusinessUnitFactory(code="NORTH", level="directorate")
    e.north_a = BusinessUnitFactory(code="NORTH-A", parent=e.north)
    e.south = BusinessUnitFactory(code="SOUTH", level="directorate")
    e.north_person = PersonFactory(staff_number="N0001", business_unit=e.north_a)
    e.south_person = PersonFactory(staff_number="S0001", business_unit=e.south)
    e.north_device = DeviceFactory(business_unit=e.north, serial_number="NSERIAL1")
    e.north_a_device = DeviceFactory(business_unit=e.north_a, serial_number="NASERIAL1")
    e.south_device = DeviceFactory(business_unit=e.south, serial_number="SSERIAL1")
    return e


@pytest.fixture
def integration(make_user):
    return make_user(Role.INTEGRATION)


@pytest.fixture
def north_integration(make_user, estate):
    return make_user(Role.INTEGRATION, units=[estate.north])


@pytest.fixture
def north_viewer(make_user, estate):
    return make_user(Role.UNIT_VIEWER, units=[estate.north])
