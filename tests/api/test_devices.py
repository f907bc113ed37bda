"""Devices through the API: roles, business-unit scope, filters, pagination,
create, and partial update with ETags."""

import datetime as dt
from decimal import Decimal

import pytest

from accounts.roles import Role
from devices.models import Device, DeviceEvent
from tests.factories import DeviceFactory, DeviceModelFactory

pytestmark = pytest.mark.django_db

DEVICES = "/api/v1/devices/"


def ids(response):
    return {row["id"] for row in response.json()["results"]}


def new_device(**overrides):
    body = {
        "serial_number": "NEW-0001",
        "manufacturer": "Dell",
        "model": "Latitude 5440",
        "category": "laptop",
        "business_unit": "NORTH-A",
    }
    body.update(overrides)
    return body


# --- roles and scope --------------------------------------------------------


def test_unit_viewer_lists_only_devices_in_their_unit_and_its_sub_units(
    api_as, north_viewer, estate
):
    response = api_as(north_viewer).get(DEVICES)

    assert response.status_code == 200
    assert ids(response) == {estate.north_device.pk, estate.north_a_device.pk}


def test_device_of_another_unit_is_404_in_detail(api_as, north_viewer, estate):
    response = api_as(north_viewer).get(f"{DEVICES}{estate.south_device.pk}/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_device_of_another_unit_is_absent_from_search(api_as, north_viewer, estate):
    response = api_as(north_viewer).get(f"{DEVICES}?q={estate.south_device.serial_number}")

    assert response.status_code == 200
    assert ids(response) == set()


def test_unscoped_integration_sees_the_whole_estate(api_as, integration, estate):
    response = api_as(integration).get(DEVICES)

    assert ids(response) == {
        estate.north_device.pk,
        estate.north_a_device.pk,
        estate.south_device.pk,
    }


def test_unit_viewer_without_a_scope_sees_nothing(api_as, make_user, estate):
    viewer = make_user(Role.UNIT_VIEWER)

    assert ids(api_as(viewer).get(DEVICES)) == set()


def test_user_without_a_role_is_refused(api_as, make_user, estate):
    response = api_as(make_user()).get(DEVICES)

    assert response.status_code == 403


@pytest.mark.parametrize("role", [Role.UNIT_VIEWER, Role.FINANCE, Role.COMMERCIAL])
def test_read_only_roles_cannot_create_or_patch(api_as, make_user, estate, role):
    user = make_user(role, units=[estate.north])
    api = api_as(user)

    created = api.post(DEVICES, new_device())
    patched = api.patch(f"{DEVICES}{estate.north_device.pk}/", {"location": "Hendon"})

    assert created.status_code == 403
    assert patched.status_code == 403
    assert not Device.objects.filter(serial_number="NEW-0001").exists()


@pytest.mark.parametrize("role", [Role.INTEGRATION, Role.ASSET_MANAGER])
def test_writing_roles_can_create(api_as, make_user, estate, role):
    response = api_as(make_user(role)).post(DEVICES, new_device())

    assert response.status_code == 201


def test_purchase_cost_is_shown_only_to_commercial_roles(api_as, make_user, estate):
    url = f"{DEVICES}{estate.north_device.pk}/"

    as_finance = api_as(make_user(Role.FINANCE)).get(url).json()
    as_integration = api_as(make_user(Role.INTEGRATION)).get(url).json()

    assert as_finance["purchase_cost"] == "899.00"
    assert "purchase_cost" not in as_integration


def test_unit_price_is_dropped_for_non_commercial_roles(api_as, make_user, estate):
    as_commercial = api_as(make_user(Role.COMMERCIAL)).get("/api/v1/device-models/").json()
    as_viewer = api_as(make_user(Role.ASSET_MANAGER)).get("/api/v1/device-models/").json()

    assert as_commercial["results"][0]["unit_price"] == "899.00"
    assert "unit_price" not in as_viewer["results"][0]


# --- filters --------------------------------------------------------------------


@pytest.fixture
def varied(estate):
    """Devices that differ in one attribute each from the estate's plain ones."""
    phone_model = DeviceModelFactory(name="Galaxy A55", category="smartphone")
    return {
        "phone": DeviceFactory(
            business_unit=estate.south, device_model=phone_model, serial_number="PHONE-1"
        ),
        "deployed": DeviceFactory(
            business_unit=estate.south,
            status=Device.Status.DEPLOYED,
            assigned_to=estate.south_person,
            serial_number="DEP-1",
        ),
        "old": DeviceFactory(
            business_unit=estate.south, purchase_date=dt.date(2017, 3, 1), serial_number="OLD-1"
        ),
        "seen": DeviceFactory(
            business_unit=estate.south,
            last_seen=dt.datetime(2026, 1, 15, 9, 0, tzinfo=dt.UTC),
            serial_number="SEEN-1",
        ),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("category=smartphone", {"phone"}),
        ("status=deployed", {"deployed"}),
        ("assigned_to=S0001", {"deployed"}),
        ("purchase_date_before=2018-01-01", {"old"}),
        ("purchase_date_after=2017-01-01&purchase_date_before=2017-12-31", {"old"}),
        ("last_seen_after=2026-01-01T00:00:00Z", {"seen"}),
        ("last_seen_after=2026-01-01T00:00:00Z&last_seen_before=2026-01-31T00:00:00Z", {"seen"}),
        ("q=PHONE", {"phone"}),
        ("q=PHONE-1", {"phone"}),
    ],
)
def test_each_filter_narrows_the_list(api_as, integration, varied, query, expected):
    response = api_as(integration).get(f"{DEVICES}?{query}")

    assert response.status_code == 200
    assert ids(response) == {varied[name].pk for name in expected}


def test_model_filter_takes_the_model_id(api_as, integration, varied):
    model_id = varied["phone"].device_model_id

    response = api_as(integration).get(f"{DEVICES}?model={model_id}")

    assert ids(response) == {varied["phone"].pk}


def test_business_unit_filter_includes_sub_units(api_as, integration, estate):
    response = api_as(integration).get(f"{DEVICES}?business_unit=NORTH")

    assert ids(response) == {estate.north_device.pk, estate.north_a_device.pk}


def test_business_unit_filter_on_a_sub_unit_excludes_its_parent(api_as, integration, estate):
    response = api_as(integration).get(f"{DEVICES}?business_unit=NORTH-A")

    assert ids(response) == {estate.north_a_device.pk}


def test_search_matches_an_asset_tag_prefix(api_as, integration, estate):
    tag = estate.south_device.asset_tag

    response = api_as(integration).get(f"{DEVICES}?q={tag}")

    assert ids(response) == {estate.south_device.pk}


def test_search_does_not_match_the_middle_of_a_serial(api_as, integration, estate):
    # Prefix only, so the serial index can answer it; "SERIAL1" is inside every serial.
    response = api_as(integration).get(f"{DEVICES}?q=SERIAL1")

    assert ids(response) == set()


@pytest.mark.parametrize(
    "query",
    ["status=broken", "category=toaster", "purchase_date_after=31/02/2024", "model=abc"],
)
def test_invalid_filter_value_is_a_400_naming_the_filter(api_as, integration, estate, query):
    response = api_as(integration).get(f"{DEVICES}?{query}")

    assert response.status_code == 400
    name = query.split("=")[0].removesuffix("_after").removesuffix("_before")
    assert name in response.json()["error"]["fields"]


# --- cursor pagination ----------------------------------------------------------


def test_cursor_pages_walk_the_estate_once_in_id_order(api_as, integration, estate):
    DeviceFactory.create_batch(7, business_unit=estate.south)
    api = api_as(integration)
    seen, url = [], f"{DEVICES}?page_size=4"

    while url:
        page = api.get(url.replace("http://testserver", "")).json()
        seen.extend(row["id"] for row in page["results"])
        url = page["next"]

    assert seen == sorted(Device.objects.values_list("id", flat=True))
    assert "count" not in page  # no COUNT over the estate


def test_a_tampered_cursor_is_a_400(api_as, integration, estate):
    response = api_as(integration).get(f"{DEVICES}?cursor=not-a-cursor")

    assert response.status_code == 400
    assert "cursor" in response.json()["error"]["fields"]


# --- create ---------------------------------------------------------------------


def test_create_registers_a_device_with_an_imported_event(api_as, integration, estate):
    response = api_as(integration).post(
        DEVICES, new_device(purchase_cost="1234.56", purchase_date="2025-04-01")
    )

    assert response.status_code == 201
    body = response.json()
    device = Device.objects.get(pk=body["id"])
    assert device.purchase_cost == Decimal("1234.56")
    assert response.headers["ETag"] == device.etag
    assert response.headers["Location"] == f"{DEVICES}{device.pk}/"
    assert list(device.events.values_list("kind", "source")) == [("imported", "api")]


def test_create_with_an_unknown_model_creates_the_model(api_as, integration, estate):
    response = api_as(integration).post(DEVICES, new_device(model="Latitude 9999"))

    assert response.status_code == 201
    assert response.json()["model"] == "Latitude 9999"


def test_create_in_a_unit_outside_scope_says_not_found(api_as, north_integration, estate):
    response = api_as(north_integration).post(DEVICES, new_device(business_unit="SOUTH"))

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"business_unit": ["not found"]}


def test_create_duplicate_serial_for_the_manufacturer_is_refused(api_as, integration, estate):
    response = api_as(integration).post(
        DEVICES, new_device(serial_number=estate.north_device.serial_number)
    )

    assert response.status_code == 400
    assert "serial_number" in response.json()["error"]["fields"]


def test_create_refuses_unknown_fields(api_as, integration, estate):
    response = api_as(integration).post(DEVICES, new_device(colour="blue"), check_request=False)

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"colour": ["Unknown field."]}


def test_create_deployed_device_is_refused_beyond_entitlement(api_as, integration, estate):
    DeviceFactory(
        business_unit=estate.north_a,
        status=Device.Status.DEPLOYED,
        assigned_to=estate.north_person,
    )

    response = api_as(integration).post(DEVICES, new_device(status="deployed", assigned_to="N0001"))

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "entitlement_exceeded"
    assert not Device.objects.filter(serial_number="NEW-0001").exists()


# --- partial update and ETags ------------------------------------------------------


def test_detail_carries_the_etag_of_the_current_version(api_as, integration, estate):
    response = api_as(integration).get(f"{DEVICES}{estate.north_device.pk}/")

    assert response.headers["ETag"] == estate.north_device.etag


def test_patch_with_current_etag_updates_bumps_version_and_logs_the_change(
    api_as, integration, estate
):
    device = estate.north_device
    api = api_as(integration)
    etag = api.get(f"{DEVICES}{device.pk}/").headers["ETag"]

    response = api.patch(
        f"{DEVICES}{device.pk}/", {"location": "Hendon"}, headers={"If-Match": etag}
    )

    assert response.status_code == 200
    device.refresh_from_db()
    assert device.location == "Hendon"
    assert device.version == 2
    assert response.headers["ETag"] == device.etag != etag
    event = device.events.get(kind=DeviceEvent.Kind.UPDATED)
    assert event.details == {"changed": {"location": ["", "Hendon"]}}
    assert device.history.latest("history_date").location == "Hendon"


def test_patch_with_a_stale_etag_is_412_and_changes_nothing(api_as, integration, estate):
    device = estate.north_device
    api = api_as(integration)
    stale = device.etag
    api.patch(f"{DEVICES}{device.pk}/", {"location": "First"}, headers={"If-Match": stale})

    response = api.patch(
        f"{DEVICES}{device.pk}/", {"location": "Second"}, headers={"If-Match": stale}
    )

    assert response.status_code == 412
    assert response.json()["error"]["code"] == "version_conflict"
    device.refresh_from_db()
    assert device.location == "First"


def test_patch_with_another_devices_etag_is_412(api_as, integration, estate):
    response = api_as(integration).patch(
        f"{DEVICES}{estate.north_device.pk}/",
        {"location": "X"},
        headers={"If-Match": estate.south_device.etag},
    )

    assert response.status_code == 412


def test_patch_without_if_match_applies_to_the_current_version(api_as, integration, estate):
    response = api_as(integration).patch(
        f"{DEVICES}{estate.north_device.pk}/", {"os_version": "Windows 11 24H2"}
    )

    assert response.status_code == 200
    assert response.json()["os_version"] == "Windows 11 24H2"


def test_patch_that_changes_nothing_writes_nothing(api_as, integration, estate):
    device = estate.north_device

    response = api_as(integration).patch(f"{DEVICES}{device.pk}/", {"location": ""})

    assert response.status_code == 200
    device.refresh_from_db()
    assert device.version == 1
    assert not device.events.exists()


@pytest.mark.parametrize("field", ["status", "assigned_to", "serial_number", "model"])
def test_patch_refuses_fields_that_change_elsewhere(api_as, integration, estate, field):
    response = api_as(integration).patch(
        f"{DEVICES}{estate.north_device.pk}/", {field: "x"}, check_request=False
    )

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_patch_moving_a_device_into_an_unscoped_unit_says_not_found(
    api_as, north_integration, estate
):
    response = api_as(north_integration).patch(
        f"{DEVICES}{estate.north_device.pk}/", {"business_unit": "SOUTH"}
    )

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"business_unit": ["not found"]}


def test_patch_of_a_device_outside_scope_is_404(api_as, north_integration, estate):
    response = api_as(north_integration).patch(
        f"{DEVICES}{estate.south_device.pk}/", {"location": "X"}
    )

    assert response.status_code == 404
    estate.south_device.refresh_from_db()
    assert estate.south_device.location == ""


def test_patch_to_a_taken_asset_tag_is_refused(api_as, integration, estate):
    response = api_as(integration).patch(
        f"{DEVICES}{estate.north_device.pk}/", {"asset_tag": estate.south_device.asset_tag}
    )

    assert response.status_code == 400
    assert "asset_tag" in response.json()["error"]["fields"]


def test_two_updates_from_the_same_version_cannot_both_win(integration, estate):
    # The compare-and-swap in device_update: the second writer's WHERE version = 1
    # matches no row once the first has committed.
    from devices import services

    device = estate.north_device
    services.device_update(device=device, changes={"location": "A"}, expected_version=1)

    with pytest.raises(services.VersionConflict):
        services.device_update(device=device, changes={"location": "B"}, expected_version=1)

    device.refresh_from_db()
    assert (device.location, device.version) == ("A", 2)


def test_people_and_units_are_scoped_too(api_as, north_viewer, estate):
    api = api_as(north_viewer)

    units = {row["code"] for row in api.get("/api/v1/business-units/").json()["results"]}
    people = {row["staff_number"] for row in api.get("/api/v1/people/").json()["results"]}

    assert units == {"NORTH", "NORTH-A"}
    assert people == {"N0001"}
    assert api.get("/api/v1/business-units/SOUTH/").status_code == 404
    assert api.get("/api/v1/people/S0001/").status_code == 404


@pytest.mark.parametrize("role", [Role.FINANCE, Role.INTEGRATION])
def test_fast_representation_matches_the_declared_fields(make_user, estate, role):
    # DeviceSerializer builds its output by hand for speed; it must equal DRF's
    # generic walk over the same declared fields, for every kind of value.
    from rest_framework import serializers
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from devices.api.serializers import DeviceSerializer
    from devices.selectors import device_list

    deployed = DeviceFactory(
        business_unit=estate.north_a,
        status=Device.Status.DEPLOYED,
        assigned_to=estate.north_person,
        last_seen=dt.datetime(2026, 7, 1, 8, 30, 15, 123456, tzinfo=dt.UTC),
        purchase_cost=None,
        purchase_date=None,
    )
    user = make_user(role)
    request = Request(APIRequestFactory().get("/"))
    request.user = user
    for device in device_list(user=user).filter(pk__in=[deployed.pk, estate.north_device.pk]):
        serializer = DeviceSerializer(context={"request": request})
        generic = serializers.ModelSerializer.to_representation(serializer, device)

        assert serializer.to_representation(device) == dict(generic)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_patches_with_the_same_etag_cannot_both_win(integration, estate, monkeypatch):
    # The first PATCH is held after its UPDATE (row locked, not committed) while a
    # second PATCH with the same ETag runs: the second's UPDATE ... WHERE version = 1
    # waits for the lock, re-reads the row at version 2 and matches nothing -> 412.
    import threading

    from django.db import connection
    from rest_framework.test import APIClient

    from devices import services

    device = estate.north_device
    etag = device.etag
    inside, release = threading.Event(), threading.Event()
    real_record = services.device_event_record

    def held_record(**kwargs):
        if kwargs.get("details", {}).get("changed", {}).get("location", [None, None])[1] == "A":
            inside.set()
            release.wait(10)
        return real_record(**kwargs)

    monkeypatch.setattr(services, "device_event_record", held_record)
    results = {}

    def send(name, location):
        client = APIClient()
        client.force_authenticate(integration)
        results[name] = client.patch(
            f"{DEVICES}{device.pk}/", {"location": location}, format="json", HTTP_IF_MATCH=etag
        ).status_code
        connection.close()

    first = threading.Thread(target=send, args=("first", "A"))
    first.start()
    assert inside.wait(10)
    second = threading.Thread(target=send, args=("second", "B"))
    second.start()
    second.join(1)  # blocked on the row lock until the first commits
    release.set()
    first.join(10)
    second.join(10)

    assert results == {"first": 200, "second": 412}
    device.refresh_from_db()
    assert (device.location, device.version) == ("A", 2)


def test_search_prefix_is_exact_at_the_edges_of_its_index_range(api_as, integration, estate):
    # The serial prefix is also sent as a range ('PFX' <= serial < 'PFY') for the index;
    # the result must still be exactly the serials starting with the prefix.
    wanted = [DeviceFactory(serial_number=s, asset_tag=None) for s in ("PFX", "PFX~", "PFX0")]
    for other in ("PF", "PFY", "PFW~", "pfx1"):
        DeviceFactory(serial_number=other, asset_tag=None)

    response = api_as(integration).get(f"{DEVICES}?q=PFX")

    assert ids(response) == {d.pk for d in wanted}


def test_a_refused_create_leaves_no_new_model_behind(api_as, integration, estate):
    from devices.models import DeviceModel

    response = api_as(integration).post(
        DEVICES,
        new_device(model="Brand New 1", serial_number=estate.north_device.serial_number),
    )

    assert response.status_code == 400
    assert not DeviceModel.objects.filter(name="Brand New 1").exists()


def test_get_with_the_current_etag_is_304_and_with_an_old_one_is_200(api_as, integration, estate):
    device = estate.north_device
    api = api_as(integration)
    etag = api.get(f"{DEVICES}{device.pk}/").headers["ETag"]

    unchanged = api.get(f"{DEVICES}{device.pk}/", headers={"If-None-Match": etag})
    api.patch(f"{DEVICES}{device.pk}/", {"location": "Moved"})
    changed = api.get(f"{DEVICES}{device.pk}/", headers={"If-None-Match": etag})

    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert changed.status_code == 200
    assert changed.json()["location"] == "Moved"
