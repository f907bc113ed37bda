"""The device page's action forms are a door into the estate (issue 14: "act where
you look"; issue 12: every rule at every door). Each rule a page POST can reach is
tried through it, expecting the service's refusal (or the page's 403/404) and
nothing written: no device change, no event, no AT check, no disposal case.

Doors here: POST /devices/<pk>/<action>/ for deploy, reassign, return, repair,
repair-done, lost-or-stolen, found, note, at-check and start-disposal."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.roles import Role
from devices import services
from devices.models import ATCheck, Device, DeviceEvent, EntitlementException
from disposals.models import DisposalCase
from tests.factories import BusinessUnitFactory, DeviceFactory, PersonFactory, RoleProfileFactory
from workspace.urls import DEVICE_ACTION_PATHS

pytestmark = pytest.mark.django_db


@pytest.fixture
def unit():
    return BusinessUnitFactory(code="CE", name="Central East")


def snapshot():
    return (
        list(
            Device.objects.order_by("pk").values_list(
                "pk", "status", "assigned_to", "business_unit", "version"
            )
        ),
        DeviceEvent.objects.count(),
        ATCheck.objects.filter(confirmed_at__isnull=True).count(),
        EntitlementException.objects.count(),
        DisposalCase.objects.count(),
    )


def post(client, device, action, data):
    return client.post(reverse(f"devices:device_{action}", args=[device.pk]), data)


# --- rule: entitlement at every door -------------------------------------------------------


@pytest.mark.parametrize("action", ["deploy", "reassign"])
def test_a_deployment_past_the_entitlement_is_refused_through_the_page(
    client, asset_manager, unit, action
):
    desk = RoleProfileFactory(code="desk", name="Desk officer", entitlements={"laptop": 1})
    holder = PersonFactory(staff_number="D1", business_unit=unit, role_profile=desk)
    DeviceFactory(business_unit=unit, status=Device.Status.DEPLOYED, assigned_to=holder)
    other = PersonFactory(staff_number="D2", business_unit=unit)
    device = (
        DeviceFactory(business_unit=unit)
        if action == "deploy"
        else DeviceFactory(business_unit=unit, status=Device.Status.DEPLOYED, assigned_to=other)
    )
    client.force_login(asset_manager)
    before = snapshot()

    response = post(client, device, action, {f"{action}-staff_number": "D1"})

    assert response.status_code == 400
    assert "the role allows 1" in response.context["form"].errors["staff_number"][0]
    assert snapshot() == before


# --- rule: the AT check is confirmed by someone other than the deployer ---------------------


def test_the_deployer_cannot_confirm_the_at_check_through_the_page(client, asset_manager, unit):
    person = PersonFactory(business_unit=unit, at_needs=True)
    device = DeviceFactory(business_unit=unit)
    services.device_deploy(device=device, person=person, actor=asset_manager)
    check = ATCheck.objects.get()
    client.force_login(asset_manager)
    before = snapshot()

    response = post(
        client, device, "at_check", {"at_check-check": check.pk, "at_check-note": "Works"}
    )

    assert response.status_code == 400
    assert "someone other than who deployed" in str(response.context["form"].errors)
    check.refresh_from_db()
    assert check.pending
    assert snapshot() == before


def test_an_at_check_of_another_device_cannot_be_confirmed_through_this_one(
    client, asset_manager, make_user, unit
):
    person = PersonFactory(business_unit=unit, at_needs=True)
    first, second = DeviceFactory(business_unit=unit), DeviceFactory(business_unit=unit)
    services.device_deploy(device=first, person=person, actor=asset_manager)
    second_person = PersonFactory(business_unit=unit, at_needs=True)
    services.device_deploy(device=second, person=second_person, actor=asset_manager)
    other_check = ATCheck.objects.get(device=second)
    client.force_login(make_user(Role.ASSET_MANAGER))
    before = snapshot()

    response = post(
        client, first, "at_check", {"at_check-check": other_check.pk, "at_check-note": "Works"}
    )

    assert response.status_code == 400
    assert snapshot() == before


# --- rule: the status machine, and disposal only through a case -------------------------------


@pytest.mark.parametrize(
    ("status", "action", "data"),
    [
        ("in_stock", "found", {"found-note": "x"}),
        ("in_stock", "repair_done", {}),
        ("in_stock", "reassign", {"reassign-staff_number": "P1"}),
        ("deployed", "deploy", {"deploy-staff_number": "P1"}),
        ("deployed", "disposal", {"confirmed": "yes"}),
        ("in_stock", "disposal", {"confirmed": "yes"}),
        ("lost_stolen", "return", {"return-destination": "in_stock", "confirmed": "yes"}),
        (
            "lost_stolen",
            "lost",
            {"lost-circumstance": "lost", "lost-note": "x", "confirmed": "yes"},
        ),
        ("disposed", "return", {"return-destination": "in_stock", "confirmed": "yes"}),
    ],
)
def test_a_move_the_status_machine_does_not_allow_is_refused_through_the_page(
    client, asset_manager, unit, status, action, data
):
    holder = PersonFactory(staff_number="P0", business_unit=unit)
    PersonFactory(staff_number="P1", business_unit=unit)
    device = DeviceFactory(
        business_unit=unit, status=status, assigned_to=holder if status == "deployed" else None
    )
    client.force_login(asset_manager)
    before = snapshot()

    response = post(client, device, action, data)

    assert response.status_code == 302
    assert response["Location"] == reverse("devices:device_detail", args=[device.pk])
    assert snapshot() == before


def test_a_return_to_a_destination_the_status_does_not_allow_is_refused(
    client, asset_manager, unit
):
    device = DeviceFactory(business_unit=unit, status=Device.Status.IN_STOCK)
    client.force_login(asset_manager)
    before = snapshot()

    response = post(
        client,
        device,
        "return",
        {"return-destination": "in_stock", "return-reason": "x", "confirmed": "yes"},
    )

    assert response.status_code == 400
    assert "destination" in response.context["form"].errors
    assert snapshot() == before


def test_a_device_already_in_disposal_cannot_start_it_again(client, asset_manager, unit):
    device = DeviceFactory(business_unit=unit, status=Device.Status.RETURNED)
    client.force_login(asset_manager)
    assert post(client, device, "disposal", {"confirmed": "yes"}).status_code == 302
    assert DisposalCase.objects.count() == 1
    before = snapshot()

    response = post(client, device, "disposal", {"confirmed": "yes"})

    assert response.status_code == 302
    assert snapshot() == before


# --- rules: role and scope on every action ----------------------------------------------------


ACTIONS = sorted(DEVICE_ACTION_PATHS)


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("role", [Role.UNIT_VIEWER, Role.FINANCE, Role.COMMERCIAL])
def test_roles_that_only_look_are_refused_every_action(client, make_user, unit, role, action):
    device = DeviceFactory(business_unit=unit)
    client.force_login(make_user(role, units=[unit]))
    before = snapshot()

    response = post(client, device, action, {"confirmed": "yes"})

    assert response.status_code == 403
    assert snapshot() == before


@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_on_a_device_outside_the_scope_is_not_found(client, make_user, unit, action):
    device = DeviceFactory(business_unit=unit)
    client.force_login(make_user(Role.ASSET_MANAGER, units=[BusinessUnitFactory(code="SO")]))
    before = snapshot()

    response = post(client, device, action, {"confirmed": "yes"})

    assert response.status_code == 404
    assert snapshot() == before


@pytest.mark.parametrize("action", ACTIONS)
def test_signed_out_callers_are_sent_to_sign_in(client, unit, action):
    device = DeviceFactory(business_unit=unit)
    before = snapshot()

    response = post(client, device, action, {"confirmed": "yes"})

    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert snapshot() == before
