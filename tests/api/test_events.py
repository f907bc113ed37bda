"""Lifecycle events through the API: each action maps onto the estate's services,
which enforce the status machine and the deployment entitlement."""

import datetime as dt

import pytest

from devices.models import Device, DeviceEvent, EntitlementException
from tests.factories import DeviceEventFactory, DeviceFactory

pytestmark = pytest.mark.django_db


def events_url(device):
    return f"/api/v1/devices/{device.pk}/events/"


def test_deploy_assigns_the_device_and_logs_a_deployed_event(api_as, integration, estate):
    device = estate.north_a_device

    response = api_as(integration).post(
        events_url(device), {"action": "deploy", "assigned_to": "N0001", "reference": "INC123"}
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["kind"], body["from_status"], body["to_status"]) == (
        "deployed",
        "in_stock",
        "deployed",
    )
    assert body["details"]["reference"] == "INC123"
    device.refresh_from_db()
    assert device.status == Device.Status.DEPLOYED
    assert device.assigned_to == estate.north_person
    assert response.headers["ETag"] == device.etag


def test_deploy_beyond_entitlement_is_refused_with_its_reason(api_as, integration, estate):
    # Given the person already holds the one laptop their role allows
    DeviceFactory(
        business_unit=estate.north_a, status=Device.Status.DEPLOYED, assigned_to=estate.north_person
    )

    response = api_as(integration).post(
        events_url(estate.north_a_device), {"action": "deploy", "assigned_to": "N0001"}
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "entitlement_exceeded"
    assert "assigned_to" in error["fields"]
    estate.north_a_device.refresh_from_db()
    assert estate.north_a_device.status == Device.Status.IN_STOCK


def test_deploy_beyond_entitlement_is_allowed_with_an_approved_exception(
    api_as, integration, estate, asset_manager
):
    DeviceFactory(
        business_unit=estate.north_a, status=Device.Status.DEPLOYED, assigned_to=estate.north_person
    )
    EntitlementException.objects.create(
        person=estate.north_person,
        category="laptop",
        reason="Second laptop for the custody suite",
        approved_by=asset_manager,
        approved_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )

    response = api_as(integration).post(
        events_url(estate.north_a_device), {"action": "deploy", "assigned_to": "N0001"}
    )

    assert response.status_code == 201


def test_deploy_to_a_person_outside_scope_says_not_found(api_as, north_integration, estate):
    response = api_as(north_integration).post(
        events_url(estate.north_device), {"action": "deploy", "assigned_to": "S0001"}
    )

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"assigned_to": ["not found"]}


@pytest.mark.parametrize(
    ("start", "action", "kind", "end"),
    [
        ("deployed", "return", "returned", "returned"),
        ("deployed", "repair_start", "repair_started", "in_repair"),
        ("in_repair", "repaired", "repaired", "deployed"),
        ("deployed", "lost", "lost", "lost_stolen"),
        ("lost_stolen", "found", "found", "in_stock"),
        ("returned", "reclaim", "reclaimed", "in_stock"),
        ("deployed", "repaired", "repaired", "deployed"),
        ("deployed", "note", "note", "deployed"),
    ],
)
def test_each_action_moves_the_status_as_the_machine_allows(
    api_as, integration, estate, start, action, kind, end
):
    in_use = start in ("deployed", "in_repair")
    device = DeviceFactory(
        business_unit=estate.north_a,
        status=start,
        assigned_to=estate.north_person if in_use else None,
    )
    body = {"action": action, **({"note": "Screen cracked"} if action == "note" else {})}

    response = api_as(integration).post(events_url(device), body)

    assert response.status_code == 201
    assert response.json()["kind"] == kind
    device.refresh_from_db()
    assert device.status == end
    assert device.events.filter(kind=kind, source="api").count() == 1


def test_a_move_the_status_machine_forbids_is_refused(api_as, integration, estate):
    device = DeviceFactory(business_unit=estate.north, status=Device.Status.DISPOSED)

    response = api_as(integration).post(events_url(device), {"action": "reclaim"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "transition_not_allowed"
    assert not device.events.exists()


def test_unknown_action_is_a_400_naming_the_field(api_as, integration, estate):
    response = api_as(integration).post(
        events_url(estate.north_device), {"action": "teleport"}, check_request=False
    )

    assert response.status_code == 400
    assert "action" in response.json()["error"]["fields"]


def test_deploy_without_a_person_is_a_400(api_as, integration, estate):
    response = api_as(integration).post(events_url(estate.north_device), {"action": "deploy"})

    assert response.status_code == 400
    assert "assigned_to" in response.json()["error"]["fields"]


def test_events_of_a_device_outside_scope_are_404(api_as, north_viewer, estate):
    DeviceEventFactory(device=estate.south_device)

    response = api_as(north_viewer).get(events_url(estate.south_device))

    assert response.status_code == 404


def test_global_event_list_is_scoped_and_filterable(api_as, north_viewer, estate):
    mine = DeviceEventFactory(device=estate.north_a_device, kind=DeviceEvent.Kind.NOTE)
    DeviceEventFactory(device=estate.north_a_device, kind=DeviceEvent.Kind.LOST)
    DeviceEventFactory(device=estate.south_device, kind=DeviceEvent.Kind.NOTE)

    response = api_as(north_viewer).get("/api/v1/events/?kind=note")

    assert [row["id"] for row in response.json()["results"]] == [mine.pk]


def test_event_list_filters_by_device_and_time(api_as, integration, estate):
    early = DeviceEventFactory(
        device=estate.north_device, occurred_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    )
    DeviceEventFactory(
        device=estate.north_device, occurred_at=dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    )
    DeviceEventFactory(device=estate.south_device)

    response = api_as(integration).get(
        f"/api/v1/events/?device={estate.north_device.pk}&occurred_before=2024-12-31T00:00:00Z"
    )

    assert [row["id"] for row in response.json()["results"]] == [early.pk]


def test_unit_viewer_cannot_post_events(api_as, north_viewer, estate):
    response = api_as(north_viewer).post(
        events_url(estate.north_device), {"action": "note", "note": "hello"}
    )

    assert response.status_code == 403
    assert not estate.north_device.events.exists()
