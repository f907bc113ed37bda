"""The device page's actions (POST /devices/<pk>/<action>/): asset managers act on a
device in their scope through the estate's services; each success says exactly what
happened, each refusal names the field in the GOV.UK error summary and writes
nothing; destructive steps ask for confirmation first."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from accounts.roles import Role
from devices import services
from devices.models import ATCheck, Device, DeviceEvent
from disposals.models import DisposalCase
from tests.factories import BusinessUnitFactory, DeviceFactory, PersonFactory, RoleProfileFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def unit():
    return BusinessUnitFactory(code="NORTH", name="North Area")


@pytest.fixture
def person(unit):
    return PersonFactory(staff_number="N0012345", business_unit=unit)


@pytest.fixture
def device(unit):
    return DeviceFactory(asset_tag="MPS0000123", business_unit=unit)


@pytest.fixture
def manager(client, asset_manager):
    client.force_login(asset_manager)
    return asset_manager


def act(device, action: str) -> str:
    return reverse(f"devices:device_{action}", args=[device.pk])


def banner(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def errors(response) -> dict:
    return {k: [str(e) for e in v] for k, v in response.context["form"].errors.items()}


def written():
    return (
        list(Device.objects.order_by("pk").values_list("pk", "status", "assigned_to", "version")),
        DeviceEvent.objects.count(),
        ATCheck.objects.count(),
        DisposalCase.objects.count(),
    )


# --- deploy --------------------------------------------------------------------------


def test_deploy_from_the_page_says_who_received_it(client, manager, device, person):
    response = client.post(
        act(device, "deploy"), {"deploy-staff_number": "n0012345", "deploy-version": "1"}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("devices:device_detail", args=[device.pk])
    assert banner(response) == ["MPS0000123 deployed to staff number N0012345."]
    device.refresh_from_db()
    assert (device.status, device.assigned_to) == (Device.Status.DEPLOYED, person)
    event = device.events.get()
    assert (event.kind, event.recorded_by, event.source) == ("deployed", manager, "web")
    page = client.get(response["Location"]).content.decode()
    assert "Deployed to staff number N0012345" in page
    assert "MPS0000123 deployed to staff number N0012345." in page


def test_deploy_to_someone_with_at_needs_says_a_check_is_open(client, manager, device, unit):
    PersonFactory(staff_number="AT001", business_unit=unit, at_needs=True)

    response = client.post(act(device, "deploy"), {"deploy-staff_number": "AT001"})

    assert "an AT check is open" in banner(response)[0]
    assert ATCheck.objects.get().pending


def test_deploy_without_a_staff_number_names_the_field(client, manager, device):
    before = written()

    response = client.post(act(device, "deploy"), {"deploy-staff_number": " "})

    assert response.status_code == 400
    assert errors(response) == {
        "staff_number": ["Enter the staff number of the person receiving it"]
    }
    html = response.content.decode()
    assert "govuk-error-summary" in html and 'href="#id_deploy-staff_number"' in html
    assert written() == before


def test_a_person_outside_the_scope_reads_as_unknown(client, make_user, device, unit):
    outside = PersonFactory(staff_number="S999", business_unit=BusinessUnitFactory(code="SOUTH"))
    client.force_login(make_user(Role.ASSET_MANAGER, units=[unit]))
    before = written()

    known_elsewhere = client.post(
        act(device, "deploy"), {"deploy-staff_number": outside.staff_number}
    )
    unknown = client.post(act(device, "deploy"), {"deploy-staff_number": "S998"})

    assert errors(known_elsewhere)["staff_number"] == [
        "No one with staff number S999 in your business units: check the number"
    ]
    assert errors(unknown)["staff_number"] == [
        "No one with staff number S998 in your business units: check the number"
    ]
    assert written() == before


def test_deploy_beyond_the_entitlement_is_refused_on_the_field(client, manager, unit):
    desk = RoleProfileFactory(code="desk", name="Desk officer", entitlements={"laptop": 1})
    holder = PersonFactory(staff_number="D1", business_unit=unit, role_profile=desk)
    DeviceFactory(business_unit=unit, status=Device.Status.DEPLOYED, assigned_to=holder)
    device = DeviceFactory(business_unit=unit)
    before = written()

    response = client.post(act(device, "deploy"), {"deploy-staff_number": "D1"})

    assert response.status_code == 400
    (message,) = errors(response)["staff_number"]
    assert message.startswith("D1 would hold 2 laptop(s) and the role allows 1")
    assert written() == before


def test_an_action_on_a_page_that_is_out_of_date_is_refused(client, manager, device, person):
    services.device_update(device=device, changes={"location": "Moved"}, actor=manager)
    before = written()

    response = client.post(
        act(device, "deploy"), {"deploy-staff_number": "N0012345", "deploy-version": "1"}
    )

    assert response.status_code == 400
    assert "has changed since you opened the page" in errors(response)["__all__"][0]
    assert written() == before


def test_reassign_names_both_holders(client, manager, unit, person):
    first = PersonFactory(staff_number="N1", business_unit=unit)
    device = DeviceFactory(
        asset_tag="MPS1", business_unit=unit, status=Device.Status.DEPLOYED, assigned_to=first
    )

    response = client.post(act(device, "reassign"), {"reassign-staff_number": "N0012345"})

    assert banner(response) == ["MPS1 reassigned from staff number N1 to staff number N0012345."]
    device.refresh_from_db()
    assert device.assigned_to == person


# --- destructive steps: confirmation first ----------------------------------------------


def test_return_asks_for_confirmation_then_returns_to_stock(client, manager, unit, person):
    device = DeviceFactory(
        asset_tag="MPS2", business_unit=unit, status=Device.Status.DEPLOYED, assigned_to=person
    )
    data = {"return-destination": "in_stock", "return-reason": "Holder left the force"}
    before = written()

    asked = client.post(act(device, "return"), data)

    assert asked.status_code == 200
    assert "Return MPS2?" in asked.content.decode()
    assert "Holder left the force" in asked.content.decode()
    assert written() == before

    done = client.post(act(device, "return"), {**data, "confirmed": "yes"})

    assert banner(done) == ["MPS2 returned to stock."]
    device.refresh_from_db()
    assert (device.status, device.assigned_to) == (Device.Status.IN_STOCK, None)
    event = device.events.get()
    assert (event.kind, event.details) == ("reclaimed", {"reason": "Holder left the force"})


def test_return_needs_a_reason_and_a_destination(client, manager, unit, person):
    device = DeviceFactory(business_unit=unit, status=Device.Status.DEPLOYED, assigned_to=person)

    response = client.post(act(device, "return"), {"confirmed": "yes"})

    assert response.status_code == 400
    assert errors(response) == {
        "destination": ["Choose where the device is going"],
        "reason": ["Enter why the device is being returned"],
    }
    assert 'href="#id_return-destination_0"' in response.content.decode()


def test_change_the_answers_goes_back_to_the_form_with_them(client, manager, unit, person):
    device = DeviceFactory(business_unit=unit, status=Device.Status.DEPLOYED, assigned_to=person)
    data = {"return-destination": "returned", "return-reason": "Broken beyond repair"}

    response = client.post(act(device, "return"), {**data, "change": "yes"})

    assert response.status_code == 200
    assert "Broken beyond repair</textarea>" in response.content.decode()
    assert not device.events.exists()


def test_lost_then_found(client, manager, unit, person):
    device = DeviceFactory(
        asset_tag="MPS3", business_unit=unit, status=Device.Status.DEPLOYED, assigned_to=person
    )
    data = {
        "lost-circumstance": "stolen",
        "lost-reference": "CAD 1234/05JAN",
        "lost-note": "Taken from a car",
    }

    asked = client.post(act(device, "lost"), data)
    done = client.post(act(device, "lost"), {**data, "confirmed": "yes"})

    assert "Report MPS3 lost or stolen?" in asked.content.decode()
    assert banner(done) == ["MPS3 reported stolen."]
    device.refresh_from_db()
    assert device.status == Device.Status.LOST_STOLEN
    assert device.events.get().details == {
        "circumstance": "stolen",
        "note": "Taken from a car",
        "reference": "CAD 1234/05JAN",
    }

    found = client.post(act(device, "found"), {"found-note": "Handed in at Brixton"})

    assert banner(found)[-1].startswith("MPS3 recorded as found")
    device.refresh_from_db()
    assert device.status == Device.Status.IN_STOCK
    assert device.events.order_by("-id").first().kind == "found"


def test_repair_and_back_to_the_holder(client, manager, unit, person):
    device = DeviceFactory(
        asset_tag="MPS4", business_unit=unit, status=Device.Status.DEPLOYED, assigned_to=person
    )

    sent = client.post(act(device, "repair"), {"repair-fault": "Cracked screen"})
    back = client.post(act(device, "repair_done"), {"repair_done-note": "Screen replaced"})

    assert banner(sent) == ["MPS4 sent for repair."]
    assert banner(back)[-1] == "MPS4 back from repair and with staff number N0012345 again."
    device.refresh_from_db()
    assert (device.status, device.assigned_to) == (Device.Status.DEPLOYED, person)
    assert list(device.events.order_by("id").values_list("kind", flat=True)) == [
        "repair_started",
        "repaired",
    ]


def test_a_note_goes_on_the_timeline(client, manager, device):
    response = client.post(act(device, "note"), {"note-note": "Sticker replaced"})

    assert banner(response) == ["Note added to MPS0000123's timeline."]
    event = device.events.get()
    assert (event.kind, event.details, event.recorded_by) == (
        "note",
        {"note": "Sticker replaced"},
        manager,
    )


def test_an_empty_note_is_refused_on_its_field(client, manager, device):
    response = client.post(act(device, "note"), {"note-note": ""})

    assert errors(response) == {"note": ["Enter the note"]}
    assert not device.events.exists()


def test_start_disposal_opens_a_case_after_confirmation(client, manager, unit):
    device = DeviceFactory(asset_tag="MPS5", business_unit=unit, status=Device.Status.RETURNED)

    page = client.get(act(device, "disposal"))
    done = client.post(act(device, "disposal"), {"disposal-version": "1", "confirmed": "yes"})

    assert "Start disposal of MPS5?" in page.content.decode()
    assert banner(done) == ["Disposal case opened for MPS5: it now awaits sanitisation."]
    device.refresh_from_db()
    assert device.status == Device.Status.AWAITING_SANITISATION
    assert DisposalCase.objects.get().device == device


# --- AT checks -----------------------------------------------------------------------


def test_the_deployer_cannot_confirm_the_at_check_and_a_colleague_can(
    client, manager, make_user, device, unit
):
    PersonFactory(staff_number="AT001", business_unit=unit, at_needs=True)
    client.post(act(device, "deploy"), {"deploy-staff_number": "AT001"})
    check = ATCheck.objects.get()
    data = {"at_check-check": str(check.pk), "at_check-note": "Screen reader works"}

    refused = client.post(act(device, "at_check"), data)

    assert refused.status_code == 400
    assert errors(refused)["__all__"] == [
        "The AT check is confirmed by someone other than who deployed the device."
    ]
    check.refresh_from_db()
    assert check.pending

    client.force_login(make_user(Role.ASSET_MANAGER))
    confirmed = client.post(act(device, "at_check"), data)

    assert banner(confirmed) == [
        "AT check confirmed: staff number AT001's assistive technology works on MPS0000123."
    ]
    check.refresh_from_db()
    assert not check.pending and check.note == "Screen reader works"


# --- who may act, on what ----------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.UNIT_VIEWER, Role.FINANCE, Role.COMMERCIAL])
@pytest.mark.parametrize("method", ["get", "post"])
def test_only_asset_managers_act(client, make_user, device, unit, role, method):
    client.force_login(make_user(role, units=[unit]))
    before = written()

    response = getattr(client, method)(act(device, "note"), {"note-note": "hello"})

    assert response.status_code == 403
    assert written() == before


def test_a_device_outside_the_scope_is_not_found(client, make_user, device):
    client.force_login(make_user(Role.ASSET_MANAGER, units=[BusinessUnitFactory(code="SOUTH")]))
    before = written()

    response = client.post(act(device, "note"), {"note-note": "hello"})

    assert response.status_code == 404
    assert written() == before


def test_an_action_the_status_does_not_offer_goes_back_saying_why(client, manager, device):
    before = written()

    response = client.post(act(device, "found"), {"found-note": "here"})

    assert response.status_code == 302
    assert banner(response) == [
        "MPS0000123 is in stock: only a device recorded as lost or stolen can be found."
    ]
    assert written() == before
