"""POST /api/v1/devices/bulk/: the importer's upsert with per-item results, behind
the API's scope check."""

import pytest

from accounts.roles import Role
from devices.models import Device, DeviceEvent

pytestmark = pytest.mark.django_db

BULK = "/api/v1/devices/bulk/"


def item(serial, unit="NORTH-A", **extra):
    return {
        "serial_number": serial,
        "manufacturer": "Dell",
        "model": "Latitude 5440",
        "category": "laptop",
        "business_unit": unit,
        **extra,
    }


def test_bulk_creates_updates_and_reports_unchanged_per_item(api_as, integration, estate):
    existing = estate.north_device  # serial NSERIAL1, location ""
    api = api_as(integration)
    body = [
        item("BULK-1"),
        item(existing.serial_number, unit="NORTH", location="Hendon"),
        item(estate.north_a_device.serial_number, asset_tag=estate.north_a_device.asset_tag),
    ]

    response = api.post(BULK, body)

    assert response.status_code == 200
    result = response.json()
    assert [r["outcome"] for r in result["results"]] == ["created", "updated", "unchanged"]
    assert result["counts"] == {"created": 1, "updated": 1, "unchanged": 1, "error": 0}
    created = Device.objects.get(serial_number="BULK-1")
    assert result["results"][0]["device_id"] == created.pk
    existing.refresh_from_db()
    assert existing.location == "Hendon"
    assert DeviceEvent.objects.filter(device=created, source="api").exists()


def test_bulk_accepts_an_object_with_a_devices_list(api_as, integration, estate):
    response = api_as(integration).post(BULK, {"devices": [item("BULK-1")]})

    assert response.json()["counts"]["created"] == 1


def test_bulk_repeat_is_a_no_op(api_as, integration, estate):
    api = api_as(integration)
    body = [item("BULK-1", location="Lambeth")]
    api.post(BULK, body)

    again = api.post(BULK, body).json()

    assert again["counts"] == {"created": 0, "updated": 0, "unchanged": 1, "error": 0}


def test_bulk_item_errors_name_the_field_and_the_good_items_land(api_as, integration, estate):
    body = [
        item("BULK-1"),
        item("BULK-2", purchase_date="2024-13-45"),
        item("6.37702E+15"),
        {"serial_number": "BULK-3"},
        "not an object",
    ]

    result = api_as(integration).post(BULK, body, check_request=False).json()

    outcomes = [r["outcome"] for r in result["results"]]
    assert outcomes == ["created", "error", "error", "error", "error"]
    assert "purchase_date" in result["results"][1]["errors"]
    assert "serial_number" in result["results"][2]["errors"]
    assert "manufacturer" in result["results"][3]["errors"]
    assert "non_field_errors" in result["results"][4]["errors"]
    assert [r["index"] for r in result["results"]] == [0, 1, 2, 3, 4]
    assert Device.objects.filter(serial_number__startswith="BULK-").count() == 1


def test_bulk_refuses_units_outside_scope_without_revealing_them(api_as, north_integration, estate):
    body = [item("BULK-1", unit="SOUTH"), item("BULK-2", unit="NOWHERE"), item("BULK-3")]

    result = api_as(north_integration).post(BULK, body).json()

    errors = [r["errors"] for r in result["results"]]
    # An existing unit outside scope and a unit that does not exist look the same.
    assert errors[0] == errors[1] == {"business_unit": ["not found"]}
    assert result["results"][2]["outcome"] == "created"
    assert not Device.objects.filter(serial_number__in=["BULK-1", "BULK-2"]).exists()


def test_bulk_cannot_pull_another_units_device_into_scope(api_as, north_integration, estate):
    # SSERIAL1 exists in SOUTH; naming it with a NORTH unit must not move it.
    body = [item(estate.south_device.serial_number, unit="NORTH")]

    result = api_as(north_integration).post(BULK, body).json()

    assert result["results"][0]["errors"] == {"business_unit": ["not found"]}
    estate.south_device.refresh_from_db()
    assert estate.south_device.business_unit == estate.south


def test_bulk_refuses_people_outside_scope_as_not_found(api_as, north_integration, estate):
    body = [item("BULK-1", status="deployed", assigned_to="S0001")]

    result = api_as(north_integration).post(BULK, body).json()

    assert result["results"][0]["errors"] == {"assigned_to": ["not found"]}


def test_bulk_over_the_limit_is_a_400_naming_it(api_as, integration, estate, settings):
    body = [item(f"B{i}") for i in range(5001)]

    response = api_as(integration).post(BULK, body, check_request=False)

    assert response.status_code == 400
    assert "5000" in response.json()["error"]["fields"]["devices"][0]
    assert not Device.objects.filter(serial_number__startswith="B0").exists()


@pytest.mark.parametrize("body", [{"devices": "x"}, {"other": []}, 42, {"devices": [], "x": 1}])
def test_bulk_body_of_the_wrong_shape_is_a_400(api_as, integration, estate, body):
    response = api_as(integration).post(BULK, body, check_request=False)

    assert response.status_code == 400
    assert "devices" in response.json()["error"]["fields"]


def test_bulk_needs_a_writing_role(api_as, make_user, estate):
    response = api_as(make_user(Role.FINANCE)).post(BULK, [item("BULK-1")])

    assert response.status_code == 403


def test_bulk_retry_with_the_same_key_replays_and_writes_once(api_as, integration, estate):
    api = api_as(integration)
    key = {"Idempotency-Key": "bulk-1"}

    first = api.post(BULK, [item("BULK-1")], headers=key)
    retry = api.post(BULK, [item("BULK-1")], headers=key)

    assert retry.json() == first.json()
    assert retry.json()["counts"]["created"] == 1  # the replay, not "unchanged"
    assert DeviceEvent.objects.filter(device__serial_number="BULK-1").count() == 1


def test_bulk_money_sent_as_a_json_number_stays_exact(api_as, integration, estate):
    from decimal import Decimal

    api_as(integration).post(BULK, [item("BULK-1", purchase_cost=1234.56)], check_request=False)

    assert Device.objects.get(serial_number="BULK-1").purchase_cost == Decimal("1234.56")


def test_bulk_serial_sent_as_a_json_number_is_refused_naming_the_field(api_as, integration, estate):
    result = api_as(integration).post(BULK, [item(6.37702e15)], check_request=False).json()

    assert result["results"][0]["outcome"] == "error"
    assert "serial_number" in result["results"][0]["errors"]


def test_bulk_item_limit_is_a_setting_and_the_400_names_it(api_as, integration, estate, settings):
    settings.API_BULK_MAX_ITEMS = 3
    before = Device.objects.count()

    response = api_as(integration).post(BULK, [item(f"B{i}") for i in range(4)])

    assert response.status_code == 400
    assert response.json()["error"]["fields"]["devices"] == [
        "At most 3 devices per call; this request has 4."
    ]
    assert Device.objects.count() == before
    assert api_as(integration).post(BULK, [item(f"B{i}") for i in range(3)]).status_code == 200


def test_bulk_record_exceptions_is_in_the_schema_and_asset_managers_may_send_it(
    api_as, make_user, estate
):
    from tests.api.conftest import schema_dict

    request = schema_dict()["components"]["schemas"]["BulkRequestRequest"]
    assert request["properties"]["record_exceptions"]["type"] == "boolean"
    manager = make_user(Role.ASSET_MANAGER)

    # The schema-checked client validates this body against the documented request.
    response = api_as(manager).post(BULK, {"devices": [item("BULK-1")], "record_exceptions": True})

    assert response.status_code == 200
    assert response.json()["counts"]["created"] == 1


def test_bulk_record_exceptions_from_an_integration_is_a_403(api_as, integration, estate):
    response = api_as(integration).post(
        BULK, {"devices": [item("BULK-1")], "record_exceptions": True}
    )

    assert response.status_code == 403
    assert not Device.objects.filter(serial_number="BULK-1").exists()
