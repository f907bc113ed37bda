"""Disposals API: bulk sanitisation results from wipe tools, custody chain."""

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.roles import Role
from devices.models import Device
from disposals.models import DisposalCase, SanitisationRecord
from tests.factories import BusinessUnitFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/disposals/sanitisation-results/"


def item(device, **overrides):
    body = {
        "asset_tag": device.asset_tag,
        "method": "crypto_erase",
        "standard": "NIST SP 800-88 Purge",
        "tool": "Blancco Drive Eraser",
        "tool_version": "7.9",
        "operator": "C1234",
        "verifier": "C5678",
        "performed_at": (timezone.now()).isoformat(),
        "result": "pass",
        "certificate_ref": f"BL-{device.pk}",
    }
    body.update(overrides)
    return body


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_wipe_tool_records_results_per_item(make_user, returned_devices, rule):
    a, b, c = returned_devices(3)
    tool = make_user(Role.INTEGRATION)

    response = api(tool).post(
        URL,
        {
            "results": [
                item(a),
                {
                    **item(b),
                    "asset_tag": "",
                    "serial_number": b.serial_number,
                    "manufacturer": b.manufacturer.name.upper(),
                    "result": "fail",
                },
                item(c, verifier="c1234"),
            ]
        },
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["recorded"], body["refused"]) == (2, 1)
    assert [r["ok"] for r in body["results"]] == [True, True, False]
    assert "verifier" in body["results"][2]["errors"]
    assert DisposalCase.objects.get(device=a).status == DisposalCase.Status.SANITISED
    assert DisposalCase.objects.get(device=b).route == "destruction"
    assert not DisposalCase.objects.filter(device=c).exists()


def test_unknown_or_out_of_scope_device_is_reported_not_found(make_user, returned_devices):
    mine, theirs = BusinessUnitFactory(), BusinessUnitFactory()
    other = returned_devices(1, business_unit=theirs)[0]
    user = make_user(Role.ASSET_MANAGER, units=[mine])

    body = api(user).post(URL, {"results": [item(other)]}, format="json").json()

    assert body["results"][0]["errors"] == {"device": ["No such device in your scope."]}
    assert not SanitisationRecord.objects.exists()


def test_unit_viewer_cannot_record_sanitisation(make_user, returned_devices):
    unit = BusinessUnitFactory()
    device = returned_devices(1, business_unit=unit)[0]

    response = api(make_user(Role.UNIT_VIEWER, units=[unit])).post(
        URL, {"results": [item(device)]}, format="json"
    )

    assert response.status_code == 403
    assert response.json()["error"]["status"] == 403


def test_empty_batch_is_a_clear_400(make_user):
    response = api(make_user(Role.INTEGRATION)).post(URL, {"results": []}, format="json")

    assert response.status_code == 400
    assert "results" in response.json()["error"]["fields"]


def test_custody_chain_via_api_hides_value_from_non_commercial(make_user, flow, returned_devices):
    device = returned_devices(1)[0]
    flow.routed([device], grade="A")
    url = reverse("disposals-device-custody", args=[device.pk])

    as_manager = api(make_user(Role.ASSET_MANAGER)).get(url).json()
    as_finance = api(make_user(Role.FINANCE)).get(url).json()

    assert "estimated_value" not in as_manager["assessment"]
    assert as_manager["classification"] == "OFFICIAL"
    assert "estimated_value" in as_finance["assessment"]
    assert as_finance["classification"] == "OFFICIAL-SENSITIVE [COMMERCIAL]"
    steps = [e["details"].get("step") for e in as_manager["events"]]
    assert steps == ["case_opened", "sanitisation", "value_assessed", "route_chosen"]
    assert as_manager["sanitisation_records"][0]["verifier"] == "Tech B"


def test_custody_chain_of_another_units_device_is_404(make_user, returned_devices):
    mine, theirs = BusinessUnitFactory(), BusinessUnitFactory()
    device = returned_devices(1, business_unit=theirs)[0]

    response = api(make_user(Role.UNIT_VIEWER, units=[mine])).get(
        reverse("disposals-device-custody", args=[device.pk])
    )

    assert response.status_code == 404


def test_bulk_api_query_count_does_not_grow_with_items(
    make_user, returned_devices, django_assert_num_queries
):
    user = make_user(Role.INTEGRATION)
    client = api(user)
    client.post(URL, {"results": [item(d) for d in returned_devices(2)]}, format="json")

    def count(n):
        devices = returned_devices(n)
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            response = client.post(URL, {"results": [item(d) for d in devices]}, format="json")
        assert response.json()["recorded"] == n
        return len(ctx)

    # Same number of queries for 3 and 8 devices: resolution, locks, inserts and
    # moves are all set-based.
    assert count(3) == count(8)
    assert Device.objects.filter(status=Device.Status.SANITISED).count() == 13


def _openapi():
    import json

    from drf_spectacular.generators import SchemaGenerator
    from openapi_core import OpenAPI
    from rest_framework.renderers import JSONRenderer

    schema = SchemaGenerator().get_schema(request=None, public=True)
    return OpenAPI.from_dict(json.loads(JSONRenderer().render(schema)))


def test_requests_and_responses_match_the_openapi_schema(make_user, flow, returned_devices):
    import json

    from openapi_core.testing import MockRequest, MockResponse

    openapi = _openapi()
    from disposals import services
    from tests.disposals.conftest import old_laptop

    a, b = returned_devices(2)
    flow.routed([b], grade="A")
    # Two overrides of a suggested resale, asked for by the asset manager: one to sign
    # off, one to reject.
    c, d = old_laptop(price="1000.00", years=2), old_laptop(price="1000.00", years=2)
    for case in flow.assessed([c, d], grade="A"):
        services.routes_decide(
            case_ids=[case.pk], actor=flow.actor, route="reuse", override_reason="LOTI"
        )
    user = make_user(Role.FINANCE)
    user.groups.add(*make_user(Role.INTEGRATION).groups.all())
    client = api(user)
    body = {"results": [item(a), item(a)]}  # the second is refused: per-item errors shape
    calls = [
        ("post", URL, body),
        ("get", reverse("disposals-device-custody", args=[b.pk]), None),
        ("get", reverse("disposals-device-route", args=[c.pk]), None),  # awaiting review
        ("post", reverse("disposals-route-override-sign-off", args=[c.pk]), {}),
        ("post", reverse("disposals-route-override-reject", args=[d.pk]), {"reason": "Sell"}),
        ("get", reverse("disposals-device-custody", args=[d.pk]), None),
        ("get", reverse("disposals-device-route", args=[b.pk]), None),  # no override
    ]
    for method, path, data in calls:
        response = getattr(client, method)(path, data, format="json")
        assert response.status_code == 200, response.content
        raw = json.dumps(data).encode() if data else None
        request = MockRequest(
            "http://testserver",
            method,
            path,
            headers={"Authorization": "Token forced"},
            data=raw,
            content_type="application/json",
        )
        if data:
            openapi.validate_request(request)
        openapi.validate_response(
            request,
            MockResponse(response.content, status_code=200, content_type="application/json"),
        )
