"""The device page (/devices/<pk>/, workspace): one device as every app knows it
(details, refresh status with reasons, wave and swap, the holder's entitlement, AT
checks, disposal case, timeline and history in words) and, for asset managers only,
the actions they may take on it. Out of scope is a 404."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.roles import Role
from devices import services
from devices.models import Device, DeviceEvent
from disposals import services as disposal_services
from refresh import services as refresh_services
from tests.factories import (
    BusinessUnitFactory,
    DeviceEventFactory,
    DeviceFactory,
    DeviceModelFactory,
    PersonFactory,
    RoleProfileFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def units():
    root = BusinessUnitFactory(code="MET", name="Metropolitan", level="directorate")
    north = BusinessUnitFactory(code="NORTH", name="North Area", parent=root, level="command")
    south = BusinessUnitFactory(code="SOUTH", name="South Area", parent=root, level="command")
    return {"root": root, "north": north, "south": south}


def url(device) -> str:
    return reverse("devices:device_detail", args=[device.pk])


def test_the_device_page_keeps_its_address_and_name():
    assert reverse("devices:device_detail", args=[7]) == "/devices/7/"


def test_a_device_outside_the_scope_is_not_found(client, make_user, units):
    device = DeviceFactory(business_unit=units["south"])
    client.force_login(make_user(Role.UNIT_VIEWER, units=[units["north"]]))

    assert client.get(url(device)).status_code == 404


def test_purchase_cost_is_shown_only_to_commercial_roles(client, make_user, asset_manager, units):
    device = DeviceFactory(business_unit=units["north"], purchase_cost=Decimal("1234.56"))

    client.force_login(asset_manager)
    manager_page = client.get(url(device))
    client.force_login(make_user(Role.FINANCE))
    finance_page = client.get(url(device))

    assert "1234.56" not in manager_page.content.decode()
    assert "1,234.56" not in manager_page.content.decode()
    assert manager_page.context["classification"] == "OFFICIAL"
    assert "£1,234.56" in finance_page.content.decode()
    assert finance_page.context["classification"] == "OFFICIAL-SENSITIVE [COMMERCIAL]"


def test_the_timeline_is_newest_first_in_words(client, asset_manager, units):
    device = DeviceFactory(business_unit=units["north"])
    DeviceEventFactory(
        device=device,
        kind=DeviceEvent.Kind.RECEIVED,
        occurred_at=dt.datetime(2024, 1, 1, 9, tzinfo=dt.UTC),
        to_status="in_stock",
    )
    DeviceEventFactory(
        device=device,
        kind=DeviceEvent.Kind.REPAIR_STARTED,
        occurred_at=dt.datetime(2024, 3, 1, 9, tzinfo=dt.UTC),
        from_status="in_stock",
        to_status="in_repair",
        details={"fault": "Screen"},
        recorded_by=asset_manager,
    )
    client.force_login(asset_manager)

    response = client.get(url(device))

    html = response.content.decode()
    assert [e.kind for e in response.context["page"].timeline] == ["repair_started", "received"]
    assert "In stock → In repair" in html
    assert "Fault: Screen" in html
    assert html.index("Sent for repair") < html.index("Received")
    assert "{'" not in html and "Source:" not in html


def test_the_change_history_names_the_changed_fields(client, asset_manager, units):
    device = DeviceFactory(business_unit=units["north"], location="Old desk")
    device.location = "New desk"
    device.business_unit = units["south"]
    device.save()
    client.force_login(asset_manager)

    response = client.get(url(device))

    latest = response.context["page"].history[0]
    assert "Location: Old desk → New desk" in latest["lines"]
    assert "Business unit: North Area (NORTH) → South Area (SOUTH)" in latest["lines"]
    assert "Location: Old desk → New desk" in response.content.decode()


def test_the_change_history_hides_cost_changes_from_non_commercial_users(
    client, asset_manager, make_user, units
):
    device = DeviceFactory(business_unit=units["north"], purchase_cost=Decimal("100.00"))
    # An amount with pennies, so no username or id on the page can contain it by chance.
    device.purchase_cost = Decimal("777.31")
    device.save()

    client.force_login(asset_manager)
    manager_html = client.get(url(device)).content.decode()
    client.force_login(make_user(Role.COMMERCIAL))
    commercial_html = client.get(url(device)).content.decode()

    assert "777.31" not in manager_html
    assert "£777.31" in commercial_html


@pytest.mark.parametrize("extra", [0, 6])
def test_the_query_count_does_not_grow_with_history(
    client, asset_manager, units, django_assert_num_queries, extra
):
    # Given a deployed device with N and then N + k events and recorded changes
    person = PersonFactory(business_unit=units["north"])
    device = DeviceFactory(
        business_unit=units["north"], status=Device.Status.DEPLOYED, assigned_to=person
    )
    for i in range(2 + extra):
        DeviceEventFactory(device=device, recorded_by=asset_manager, details={"n": i})
        device.location = f"Desk {i}"
        device.save()
    client.force_login(asset_manager)

    # Queries: 1 session, 2 user, 3 groups (roles), 4 unit scopes, 5 the device with
    # its model, maker, unit, holder and role; 6 its events with who recorded them;
    # 7 its AT checks; 8 its disposal case; 9 its history records with their users,
    # 10-13 the unit, model, holder and maker named in the history; 14 eligibility;
    # 15 its refresh swaps; 16-18 the holder's allowances (role, exceptions,
    # entitlements), 19 what the holder holds by category.
    with django_assert_num_queries(19):
        response = client.get(url(device))
    assert len(response.context["page"].timeline) == 2 + extra


# --- who may act -------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.UNIT_VIEWER, Role.FINANCE, Role.COMMERCIAL])
def test_roles_that_look_see_no_action_forms(client, make_user, units, role):
    person = PersonFactory(business_unit=units["north"], at_needs=True)
    device = DeviceFactory(business_unit=units["north"])
    services.device_deploy(device=device, person=person, actor=make_user(Role.ASSET_MANAGER))
    client.force_login(make_user(role, units=[units["north"]]))

    response = client.get(url(device))

    html = response.content.decode()
    assert response.status_code == 200
    assert response.context["page"].actions == frozenset()
    assert 'data-test="device-actions"' not in html
    assert "<form" not in html.split("</header>", 1)[1]  # only the header's sign-out form
    assert "Awaiting confirmation" in html  # the AT check is shown, without its form


def test_an_asset_manager_sees_what_the_status_allows(client, asset_manager, units):
    device = DeviceFactory(business_unit=units["north"])
    client.force_login(asset_manager)

    in_stock = client.get(url(device)).context["page"].actions

    assert in_stock == {"deploy", "return", "repair", "lost", "note"}
    html = client.get(url(device)).content.decode()
    assert 'data-test="deploy-form"' in html and 'data-test="note-form"' in html
    assert reverse("devices:device_lost", args=[device.pk]) in html


@pytest.mark.parametrize(
    ("status", "offered"),
    [
        (Device.Status.DEPLOYED, {"reassign", "return", "repair", "lost", "note"}),
        (Device.Status.IN_REPAIR, {"repair_done", "return", "lost", "note"}),
        (Device.Status.RETURNED, {"return", "lost", "disposal", "note"}),
        (Device.Status.LOST_STOLEN, {"found", "note"}),
    ],
)
def test_the_actions_follow_the_status_machine(client, asset_manager, units, status, offered):
    holder = PersonFactory(business_unit=units["north"])
    in_use = status in (Device.Status.DEPLOYED, Device.Status.IN_REPAIR)
    device = DeviceFactory(
        business_unit=units["north"], status=status, assigned_to=holder if in_use else None
    )
    client.force_login(asset_manager)

    assert client.get(url(device)).context["page"].actions == offered


def test_a_historical_device_says_so_and_offers_no_disposal(client, asset_manager, units):
    device = DeviceFactory(business_unit=units["north"], status=Device.Status.DISPOSED)
    client.force_login(asset_manager)

    response = client.get(url(device))

    assert "Historical (disposed before records began)" in response.content.decode()
    assert response.context["page"].actions == {"note"}


# --- what the other apps know -------------------------------------------------------


@pytest.fixture
def policies():
    for category in ("laptop", "desktop", "monitor", "smartphone", "tablet"):
        refresh_services.refresh_policy_create(
            category=category,
            effective_from=dt.date(2015, 1, 1),
            lifecycle_months=48,
            repair_threshold=3,
            idle_days=90,
            os_end_of_support_forces_refresh=True,
        )


def test_the_refresh_panel_gives_the_reasons_due_year_and_swap(
    client, asset_manager, units, policies
):
    # Given a 2017 laptop on Windows 10 (unsupported since October 2025), deployed
    refresh_services.os_end_of_support_save(
        os_prefix="Windows 10", end_of_support=dt.date(2025, 10, 14)
    )
    holder = PersonFactory(business_unit=units["north"])
    device = DeviceFactory(
        business_unit=units["north"],
        status=Device.Status.DEPLOYED,
        assigned_to=holder,
        purchase_date=dt.date(2017, 6, 1),
        warranty_expires=dt.date(2020, 6, 1),
        os_version="Windows 10 22H2",
    )
    refresh_services.eligibility_recompute(today=dt.date(2026, 1, 5))
    wave = refresh_services.wave_create(
        name="North laptops", volume=5, actor=asset_manager, business_unit=units["north"]
    )
    client.force_login(asset_manager)

    response = client.get(url(device))

    refresh = response.context["page"].refresh
    assert refresh.eligibility.is_due
    assert refresh.reasons[:2] == [
        "Age: bought 1 June 2017, past its 48-month lifecycle on 1 June 2021",
        "Operating system: Windows 10 22H2 unsupported since 14 October 2025",
    ]
    assert "Warranty: expired 1 June 2020" in refresh.reasons
    assert refresh.due_year == "2021/22"
    assert [s.wave for s in refresh.swaps] == [wave]
    html = response.content.decode()
    assert "Due for refresh" in html
    assert "North laptops" in html and "no replacement allocated yet" in html


def test_the_entitlement_panel_shows_held_against_allowed(client, asset_manager, units):
    role = RoleProfileFactory(code="desk", name="Desk officer", entitlements={"laptop": 1})
    holder = PersonFactory(business_unit=units["north"], role_profile=role)
    phone = DeviceModelFactory(name="Phone X", category="smartphone")
    device = DeviceFactory(
        business_unit=units["north"], status=Device.Status.DEPLOYED, assigned_to=holder
    )
    DeviceFactory(
        business_unit=units["north"],
        device_model=phone,
        status=Device.Status.DEPLOYED,
        assigned_to=holder,
    )
    client.force_login(asset_manager)

    rows = client.get(url(device)).context["page"].entitlement

    by_category = {r["category"]: (r["held"], r["allowed"], r["over"]) for r in rows}
    assert by_category == {"laptop": (1, 1, False), "smartphone": (1, 0, True)}


def test_the_disposal_panel_shows_the_case_and_links_to_custody(client, asset_manager, units):
    device = DeviceFactory(business_unit=units["north"], status=Device.Status.RETURNED)
    disposal_services.disposal_cases_open(device_ids=[device.pk], actor=asset_manager)
    client.force_login(asset_manager)

    response = client.get(url(device))

    assert response.context["page"].disposal_case.device_id == device.pk
    assert "disposal" not in response.context["page"].actions
    html = response.content.decode()
    assert reverse("disposals:device_custody", args=[device.pk]) in html
    assert "Disposal case opened: awaiting sanitisation" in html
