"""The device list's bulk actions are a door into the estate (issue 14: selection with
bulk actions; issue 12: every rule at every door). Each rule a bulk POST can reach is
tried through it, expecting the refusal and nothing written: no device change, no
event, no history row.

Door: POST /devices/bulk/ (``devices.views.lists.device_bulk`` ->
``devices.list_actions.devices_bulk_move`` -> ``devices.services.devices_status_move``).
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.roles import Role
from devices.models import Device, DeviceEvent
from tests.factories import BusinessUnitFactory, DeviceFactory

pytestmark = pytest.mark.django_db

S = Device.Status


@pytest.fixture
def north():
    return BusinessUnitFactory(code="N", name="North")


@pytest.fixture
def south():
    return BusinessUnitFactory(code="S", name="South")


def snapshot():
    return (
        list(Device.objects.order_by("pk").values_list("pk", "status", "assigned_to", "version")),
        DeviceEvent.objects.count(),
        Device.history.count(),
    )


def bulk(client, devices, action, *, reason=None, back="status=in_stock"):
    data = {"device": [d.pk for d in devices], "action": action, "back": back}
    if reason is not None:
        data |= {"confirm": "1", "reason": reason}
    return client.post(reverse("devices:device_bulk"), data)


def test_an_asset_manager_confirms_then_sends_devices_to_repair_with_a_reason(
    client, make_user, north
):
    manager = make_user(Role.ASSET_MANAGER, units=[north])
    devices = DeviceFactory.create_batch(2, business_unit=north)
    client.force_login(manager)

    confirm = bulk(client, devices, "repair")
    before = snapshot()
    done = bulk(client, devices, "repair", reason="Screens flicker: ticket INC-1234")

    assert confirm.status_code == 200
    assert [d.pk for d in confirm.context["plan"].movable] == [d.pk for d in devices]
    assert snapshot() != before
    assert done.status_code == 302
    assert done["Location"] == reverse("devices:device_list") + "?status=in_stock"
    assert set(Device.objects.values_list("status", flat=True)) == {S.IN_REPAIR}
    events = DeviceEvent.objects.filter(kind=DeviceEvent.Kind.REPAIR_STARTED)
    assert events.count() == 2
    assert {e.details["reason"] for e in events} == {"Screens flicker: ticket INC-1234"}
    assert {e.recorded_by_id for e in events} == {manager.pk}
    follow = client.get(done["Location"])
    assert "2 devices sent to repair." in follow.content.decode()


def test_only_asset_managers_move_devices(client, make_user, north):
    devices = DeviceFactory.create_batch(2, business_unit=north)
    before = snapshot()
    for role in (Role.UNIT_VIEWER, Role.FINANCE, Role.COMMERCIAL):
        client.force_login(make_user(role, units=[north]))
        assert bulk(client, devices, "lost").status_code == 403
        assert bulk(client, devices, "lost", reason="Stolen from a car").status_code == 403
    assert snapshot() == before


def test_a_device_outside_the_users_units_is_not_found_and_nothing_moves(
    client, make_user, north, south
):
    manager = make_user(Role.ASSET_MANAGER, units=[north])
    mine = DeviceFactory(business_unit=north)
    theirs = DeviceFactory(business_unit=south)
    client.force_login(manager)
    before = snapshot()

    assert bulk(client, [mine, theirs], "repair").status_code == 404
    assert bulk(client, [mine, theirs], "repair", reason="Broken").status_code == 404
    response = client.post(
        reverse("devices:device_bulk"),
        {"device": [mine.pk, 10**12], "action": "export"},
    )
    assert response.status_code == 404
    assert snapshot() == before


def test_a_blank_reason_is_refused_naming_the_field_and_nothing_moves(client, make_user, north):
    devices = DeviceFactory.create_batch(2, business_unit=north)
    client.force_login(make_user(Role.ASSET_MANAGER))
    before = snapshot()

    response = bulk(client, devices, "stock", reason="   ")

    assert response.status_code == 400
    assert response.context["form"].errors["reason"]
    assert "There is a problem" in response.content.decode()
    assert snapshot() == before


def test_the_status_rule_applies_at_this_door(client, make_user, north):
    movable = DeviceFactory(business_unit=north, status=S.IN_STOCK)
    disposed = DeviceFactory(business_unit=north, status=S.DISPOSED)
    client.force_login(make_user(Role.ASSET_MANAGER))
    before = snapshot()

    confirm = bulk(client, [movable, disposed], "repair")
    forced = bulk(client, [movable, disposed], "repair", reason="Broken hinge")

    # The confirmation leaves out what cannot move, and says why...
    assert [d.pk for d in confirm.context["plan"].movable] == [movable.pk]
    assert [d.pk for d, _ in confirm.context["plan"].refused] == [disposed.pk]
    assert "cannot move from Disposed to In repair" in confirm.content.decode()
    # ...and a POST that names it anyway is refused whole.
    assert forced.status_code == 400
    assert "cannot move from Disposed" in forced.content.decode()
    assert snapshot() == before


def test_no_device_reaches_a_disposal_status_through_this_door(client, make_user, north):
    device = DeviceFactory(business_unit=north, status=S.RETURNED)
    client.force_login(make_user(Role.ASSET_MANAGER))
    before = snapshot()

    response = client.post(
        reverse("devices:device_bulk"),
        {
            "device": [device.pk],
            "action": "awaiting_sanitisation",
            "confirm": "1",
            "reason": "x",
        },
    )

    assert response.status_code == 302  # refused: not an action of the list
    assert snapshot() == before


def test_export_selected_downloads_only_the_selection_in_scope(client, make_user, north):
    chosen = DeviceFactory.create_batch(2, business_unit=north)
    other = DeviceFactory(business_unit=north, asset_tag="NOT-CHOSEN")
    client.force_login(make_user(Role.UNIT_VIEWER, units=[north]))

    response = client.post(
        reverse("devices:device_bulk"), {"device": [d.pk for d in chosen], "action": "export"}
    )

    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert response.status_code == 200
    assert body.splitlines()[0] == "Classification: OFFICIAL"
    assert all(d.asset_tag in body for d in chosen)
    assert other.asset_tag not in body
