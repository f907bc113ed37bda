"""Hostile or broken input to the API is refused in the one JSON error shape
(core.errors.error_body), never an HTML page or a traceback."""

import json

import pytest
from rest_framework.test import APIClient

from api.parsers import MAX_DEPTH
from tests.factories import DeviceFactory

pytestmark = pytest.mark.django_db

# Reads request.data through the default parsers (api.parsers.JSONParser).
RESULTS = "/api/v1/disposals/sanitisation-results/"
BULK = "/api/v1/devices/bulk/"


def assert_error_shape(response, status):
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["status"] == status
    assert error["code"] and error["message"]
    assert isinstance(error["fields"], dict)
    assert b"Traceback" not in response.content and b"<html" not in response.content.lower()
    return error


@pytest.fixture
def client_as(asset_manager):
    client = APIClient()
    client.force_authenticate(asset_manager)
    return client


def post_raw(client, path, body: str | bytes, content_type="application/json", **headers):
    data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    return client.post(path, data=data, content_type=content_type, **headers)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("{", "JSON parse error"),
        ("[" * 5000 + "]" * 5000, f"deeper than {MAX_DEPTH}"),
        ('{"results": ' + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "}", "deeper"),
        ('{"results": [{"operator": "\\ud800"}]}', "lone surrogate"),
        ('{"\\udfff": 1}', "lone surrogate"),
        ('{"results": [{"operator": "a\\u0000b"}]}', "NUL"),
        ('{"a\\u0000": 1}', "NUL"),
    ],
    ids=[
        "malformed",
        "nested-5000",
        "nested-over-limit",
        "surrogate-value",
        "surrogate-key",
        "nul-value",
        "nul-key",
    ],
)
def test_hostile_json_is_a_400_in_the_error_shape(client_as, body, says):
    error = assert_error_shape(post_raw(client_as, RESULTS, body), 400)

    assert says in error["message"]
    assert "\x00" not in json.dumps(error) and "\\u0000" not in json.dumps(error)


def test_an_unsupported_media_type_is_a_415_in_the_error_shape(client_as):
    assert_error_shape(post_raw(client_as, RESULTS, "a=1", content_type="text/plain"), 415)


def test_an_honest_document_at_the_depth_limit_is_parsed():
    from api.parsers import check_document

    doc = current = {}
    for _ in range(MAX_DEPTH - 1):
        current["k"] = {}
        current = current["k"]
    check_document(doc)  # no exception: depth MAX_DEPTH is allowed


@pytest.mark.parametrize(
    "body",
    [
        pytest.param('{"devices": [{"serial_number": "X\\u0000", "\\u0000": "y"}]}', id="nul"),
        pytest.param('{"devices": [{"serial_number": "\\ud800"}]}', id="surrogate"),
        pytest.param("[" * 5000 + "]" * 5000, id="nested-5000"),
    ],
)
@pytest.mark.parametrize(
    "door",
    [
        pytest.param(RESULTS, id="disposals-api"),
        pytest.param(BULK, id="bulk-api"),
    ],
)
def test_the_idempotency_store_never_sees_hostile_json(make_user, door, body):
    from accounts.roles import Role
    from api.models import IdempotencyRecord

    client = APIClient()
    client.force_authenticate(make_user(Role.ASSET_MANAGER))
    response = post_raw(client, door, body, HTTP_IDEMPOTENCY_KEY="hostile-1")

    assert_error_shape(response, 400)
    # Whatever was stored for a retry holds no NUL or surrogate (PostgreSQL cannot store
    # either: that insert was the 500).
    for record in IdempotencyRecord.objects.all():
        stored = json.dumps(record.response_body)
        assert "\\u0000" not in stored and "\\ud800" not in stored


def test_an_unhandled_exception_under_api_is_a_json_500_without_traceback(client_as, monkeypatch):
    from devices.api import views

    def explode(self, request, *args, **kwargs):
        raise RuntimeError("secret internals /srv/app/settings.py")

    monkeypatch.setattr(views.DeviceViewSet, "list", explode)
    client_as.raise_request_exception = False
    response = client_as.get("/api/v1/devices/")

    error = assert_error_shape(response, 500)
    assert "secret internals" not in response.content.decode()
    assert error["code"] == "server_error"


def test_an_unknown_api_path_is_a_json_404(client_as):
    assert_error_shape(client_as.get("/api/v1/no-such-thing/"), 404)


def test_pages_keep_html_errors(client, asset_manager):
    client.force_login(asset_manager)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


def test_a_device_list_still_works(client_as):
    DeviceFactory()
    assert client_as.get("/api/v1/devices/").status_code == 200
