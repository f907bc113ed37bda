"""The estate pages: dashboard and device list, each in the user's scope (the device
page is tested with workspace, in tests/workspace/).

Every list-shaped page has a query-count test run with N and N+k rows: the count
must not grow with the estate.
"""

import datetime as dt
import re

import pytest
from django.urls import reverse

from accounts.roles import Role
from devices.models import Category, Device
from tests.factories import (
    BusinessUnitFactory,
    DeviceFactory,
    DeviceModelFactory,
    PersonFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def units():
    root = BusinessUnitFactory(code="MET", name="Metropolitan", level="directorate")
    north = BusinessUnitFactory(code="NORTH", name="North Area", parent=root, level="command")
    south = BusinessUnitFactory(code="SOUTH", name="South Area", parent=root, level="command")
    return {"root": root, "north": north, "south": south}


def _table_total(html: str) -> int:
    match = re.search(r'data-test="estate-total"><strong>([\d,]+)</strong>', html)
    assert match, "the dashboard shows a total"
    return int(match.group(1).replace(",", ""))


# --- dashboard ------------------------------------------------------------------


def test_dashboard_needs_a_signed_in_user(client):
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_dashboard_of_a_scoped_viewer_counts_only_their_units(client, make_user, units):
    # Given 3 devices in North and 5 in South
    DeviceFactory.create_batch(3, business_unit=units["north"])
    DeviceFactory.create_batch(5, business_unit=units["south"], status=Device.Status.IN_STOCK)
    viewer = make_user(Role.UNIT_VIEWER, units=[units["north"]])
    client.force_login(viewer)

    # When the viewer opens the dashboard
    response = client.get(reverse("dashboard"))

    # Then they see North's three devices, and North named as their scope
    html = response.content.decode()
    assert response.status_code == 200
    assert _table_total(html) == 3
    assert "North Area" in html
    assert "South Area" not in html
    assert response.context["counts"]["total"] == 3


def test_dashboard_of_an_asset_manager_counts_the_whole_estate(client, asset_manager, units):
    DeviceFactory.create_batch(3, business_unit=units["north"])
    DeviceFactory.create_batch(5, business_unit=units["south"])
    client.force_login(asset_manager)

    html = client.get(reverse("dashboard")).content.decode()

    assert _table_total(html) == 8
    assert "all units" in html


def test_dashboard_headline_cards_match_the_status_totals(client, asset_manager, units):
    DeviceFactory.create_batch(2, business_unit=units["north"], status=Device.Status.IN_REPAIR)
    DeviceFactory.create_batch(4, business_unit=units["north"], status=Device.Status.IN_STOCK)
    client.force_login(asset_manager)

    response = client.get(reverse("dashboard"))

    cards = {card["key"]: card["value"] for card in response.context["headlines"]}
    assert cards == {
        "total": 6,
        "deployed": 0,
        "in_stock": 4,
        "in_repair": 2,
        "awaiting_sanitisation": 0,
    }
    # The chart is drawn from the same figures as the table (its accessible alternative).
    in_repair = next(s for s in response.context["chart"]["datasets"] if s["label"] == "In repair")
    assert sum(in_repair["data"]) == 2


@pytest.mark.parametrize("extra", [0, 7])
def test_dashboard_query_count_does_not_grow_with_the_estate(
    client, make_user, units, django_assert_num_queries, extra
):
    # Given N devices, and N + k in the second run, across two categories
    phone = DeviceModelFactory(name="Phone X", category=Category.SMARTPHONE)
    DeviceFactory.create_batch(3 + extra, business_unit=units["north"])
    DeviceFactory.create_batch(2 + extra, business_unit=units["north"], device_model=phone)
    viewer = make_user(Role.UNIT_VIEWER, units=[units["north"]])
    client.force_login(viewer)

    # Queries: 1 session, 2 user, 3 the user's groups (roles), 4 the user's unit
    # scopes, 5 "For you": reports ready, 6 the grouped estate counts, 7 the names of
    # the scoped units.
    with django_assert_num_queries(7):
        response = client.get(reverse("dashboard"))
    assert response.context["counts"]["total"] == 5 + 2 * extra


# --- device list ------------------------------------------------------------------


def test_device_list_shows_only_devices_in_scope(client, make_user, units):
    DeviceFactory(asset_tag="NORTH-1", business_unit=units["north"])
    DeviceFactory(asset_tag="SOUTH-1", business_unit=units["south"])
    viewer = make_user(Role.UNIT_VIEWER, units=[units["north"]])
    client.force_login(viewer)

    response = client.get(reverse("devices:device_list"))

    tags = [d.asset_tag for d in response.context["devices"]]
    assert tags == ["NORTH-1"]
    assert "SOUTH-1" not in response.content.decode()


def test_device_list_finds_a_device_by_exact_asset_tag_or_serial(client, asset_manager, units):
    DeviceFactory(asset_tag="MPS1234567", serial_number="ABC999", business_unit=units["north"])
    DeviceFactory(asset_tag="MPS7654321", serial_number="XYZ111", business_unit=units["north"])
    client.force_login(asset_manager)

    by_tag = client.get(reverse("devices:device_list"), {"q": "MPS1234567"})
    by_serial = client.get(reverse("devices:device_list"), {"q": "xyz111"})

    assert [d.asset_tag for d in by_tag.context["devices"]] == ["MPS1234567"]
    assert [d.asset_tag for d in by_serial.context["devices"]] == ["MPS7654321"]


def test_device_list_matches_the_start_of_an_asset_tag(client, asset_manager, units):
    DeviceFactory(asset_tag="MPS1230001", business_unit=units["north"])
    DeviceFactory(asset_tag="MPS1230002", business_unit=units["north"])
    DeviceFactory(asset_tag="MPS9990001", business_unit=units["north"])
    client.force_login(asset_manager)

    response = client.get(reverse("devices:device_list"), {"q": "MPS123"})

    assert [d.asset_tag for d in response.context["devices"]] == ["MPS1230001", "MPS1230002"]


def test_device_list_filters_by_unit_including_sub_units_and_status(client, asset_manager, units):
    sub = BusinessUnitFactory(code="NORTH-A", parent=units["north"])
    DeviceFactory(asset_tag="IN-SUB", business_unit=sub, status=Device.Status.IN_REPAIR)
    DeviceFactory(asset_tag="IN-NORTH", business_unit=units["north"])
    DeviceFactory(
        asset_tag="IN-SOUTH", business_unit=units["south"], status=Device.Status.IN_REPAIR
    )
    client.force_login(asset_manager)

    by_unit = client.get(reverse("devices:device_list"), {"business_unit": "NORTH"})
    by_both = client.get(
        reverse("devices:device_list"), {"business_unit": "NORTH", "status": "in_repair"}
    )

    assert [d.asset_tag for d in by_unit.context["devices"]] == ["IN-SUB", "IN-NORTH"]
    assert [d.asset_tag for d in by_both.context["devices"]] == ["IN-SUB"]


def test_device_list_refuses_a_unit_outside_the_users_scope(client, make_user, units):
    DeviceFactory(asset_tag="SOUTH-1", business_unit=units["south"])
    viewer = make_user(Role.UNIT_VIEWER, units=[units["north"]])
    client.force_login(viewer)

    response = client.get(reverse("devices:device_list"), {"business_unit": "SOUTH"})

    assert "business_unit" in response.context["form"].errors
    assert "SOUTH-1" not in response.content.decode()
    assert "There is a problem" in response.content.decode()


def test_device_list_pages_by_keyset_forward_and_back(client, asset_manager, units, settings):
    # Given 250 devices: pages of 100, 100 and 50
    devices = DeviceFactory.create_batch(250, business_unit=units["north"])
    ids = [d.id for d in devices]
    client.force_login(asset_manager)
    url = reverse("devices:device_list")

    first = client.get(url)
    second = client.get(url, {"after": first.context["page"].next_cursor})
    third = client.get(url, {"after": second.context["page"].next_cursor})
    back = client.get(url, {"before": third.context["page"].previous_cursor})

    assert [d.id for d in first.context["devices"]] == ids[:100]
    assert [d.id for d in second.context["devices"]] == ids[100:200]
    assert [d.id for d in third.context["devices"]] == ids[200:]
    assert third.context["next_url"] is None
    assert [d.id for d in back.context["devices"]] == ids[100:200]
    assert first.context["previous_url"] is None
    assert "Next 100" in first.content.decode()


def test_device_list_keeps_the_filters_in_the_next_link(client, asset_manager, units):
    DeviceFactory.create_batch(101, business_unit=units["north"], status=Device.Status.IN_REPAIR)
    client.force_login(asset_manager)

    response = client.get(reverse("devices:device_list"), {"status": "in_repair"})

    assert "status=in_repair" in response.context["next_url"]
    assert "after=" in response.context["next_url"]


@pytest.mark.parametrize("extra", [0, 30])
def test_device_list_query_count_does_not_grow_with_rows(
    client, asset_manager, units, django_assert_num_queries, extra
):
    # Given devices assigned to people in a unit, N and then N + k of them
    person = PersonFactory(business_unit=units["north"])
    DeviceFactory.create_batch(
        5 + extra, business_unit=units["north"], status=Device.Status.DEPLOYED, assigned_to=person
    )
    client.force_login(asset_manager)

    # Queries: 1 session, 2 user, 3 groups (roles), 4 unit scopes, 5 the page of
    # devices (with model, manufacturer, unit and person joined, one row more than
    # the page), 6 the search's total (counted, up to a limit), 7 the filter's
    # business units, 8 the filter's device models.
    with django_assert_num_queries(8):
        # (a prefix search on the factory's asset tags, so the search path is counted too)
        response = client.get(reverse("devices:device_list"), {"q": "TAG"})
    assert len(response.context["devices"]) == 5 + extra


def test_device_list_csv_is_marked_official_and_neutralises_formulas(client, asset_manager, units):
    DeviceFactory(asset_tag="=HYPERLINK(1)", business_unit=units["north"])
    DeviceFactory(asset_tag="SOUTH-1", business_unit=units["south"])
    client.force_login(asset_manager)

    response = client.get(
        reverse("devices:device_list"), {"business_unit": "NORTH", "format": "csv"}
    )

    body = b"".join(response.streaming_content).decode("utf-8-sig")
    lines = body.splitlines()
    assert lines[0] == "Classification: OFFICIAL"
    assert lines[1].startswith("Asset tag,Serial number")
    assert "'=HYPERLINK(1)" in body
    assert "SOUTH-1" not in body
    assert "899.00" not in body  # no commercial column (the factory cost) in an OFFICIAL export


def test_device_list_shows_the_total_and_unit_names(client, make_user, units):
    DeviceFactory.create_batch(3, business_unit=units["north"])
    DeviceFactory.create_batch(2, business_unit=units["south"])
    client.force_login(make_user(Role.UNIT_VIEWER, units=[units["north"]]))

    response = client.get(reverse("devices:device_list"))

    html = response.content.decode()
    assert response.context["total"].value == 3
    assert re.search(r'data-test="total">3 devices<', html)
    assert 'data-test="unit">North Area<' in html


def test_device_list_sorts_by_a_column_heading_and_reverses_it(client, asset_manager, units):
    seen = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for tag, days in (("OLD", 0), ("NEW", 9), ("MID", 4)):
        DeviceFactory(
            asset_tag=tag, business_unit=units["north"], last_seen=seen + dt.timedelta(days=days)
        )
    DeviceFactory(asset_tag="NEVER", business_unit=units["north"], last_seen=None)
    client.force_login(asset_manager)
    url = reverse("devices:device_list")

    first = client.get(url)
    header = next(h for h in first.context["headers"] if h["key"] == "last_seen")
    ascending = client.get(url + header["url"])
    header = next(h for h in ascending.context["headers"] if h["key"] == "last_seen")
    descending = client.get(url + header["url"])

    assert [d.asset_tag for d in ascending.context["devices"]] == ["OLD", "MID", "NEW", "NEVER"]
    assert [d.asset_tag for d in descending.context["devices"]] == ["NEW", "MID", "OLD", "NEVER"]
    assert 'aria-sort="descending"' in descending.content.decode()


def test_device_list_columns_are_chosen_and_remembered(client, asset_manager, units):
    DeviceFactory(business_unit=units["north"], location="Desk 42", os_version="Windows 11")
    client.force_login(asset_manager)
    list_url = reverse("devices:device_list")

    saved = client.post(
        reverse("devices:device_list_columns"),
        {"columns": ["location", "status"], "back": "status=in_stock&evil=1"},
    )
    later = client.get(list_url)

    assert saved.status_code == 302
    assert saved["Location"] == f"{list_url}?status=in_stock"  # only the list's own filters
    assert later.context["columns"] == ["status", "location"]
    html = later.content.decode()
    assert "Desk 42" in html
    assert "Windows 11" not in html
    assert 'data-test="header-serial_number"' not in html


@pytest.mark.parametrize("fmt", ["page", "csv"])
def test_device_list_refuses_an_unknown_parameter_by_name(client, asset_manager, units, fmt):
    DeviceFactory(asset_tag="NORTH-1", business_unit=units["north"])
    client.force_login(asset_manager)
    query = {"serial_number": "X1"} | ({"format": "csv"} if fmt == "csv" else {})

    response = client.get(reverse("devices:device_list"), query)

    assert response.status_code == 400
    body = response.content.decode()
    assert "no filter called “serial_number”" in body
    assert "NORTH-1" not in body
    if fmt == "page":
        assert "There is a problem" in body
    else:
        assert response["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize("code", ["SOUTH", "NO-SUCH-UNIT"])
@pytest.mark.parametrize("fmt", ["page", "csv"])
def test_device_list_refuses_a_unit_outside_the_scope_without_saying_it_exists(
    client, make_user, units, code, fmt
):
    DeviceFactory(asset_tag="NORTH-1", business_unit=units["north"])
    DeviceFactory(asset_tag="SOUTH-1", business_unit=units["south"])
    client.force_login(make_user(Role.UNIT_VIEWER, units=[units["north"]]))
    query = {"business_unit": code} | ({"format": "csv"} if fmt == "csv" else {})

    response = client.get(reverse("devices:device_list"), query)

    assert response.status_code == 400
    body = response.content.decode()
    # The same words whether the unit exists elsewhere or not at all.
    assert f"Business unit {code} is not a unit you can see" in body
    assert "NORTH-1" not in body and "SOUTH-1" not in body


def test_device_list_refuses_a_page_link_of_another_sort(client, asset_manager, units):
    DeviceFactory.create_batch(3, business_unit=units["north"])
    client.force_login(asset_manager)
    url = reverse("devices:device_list")
    cursor = client.get(url, {"sort": "last_seen"}).context["page"].rows[0]
    from devices import listing

    token = listing.encode_cursor("v", cursor.asset_tag, cursor.pk)

    response = client.get(url, {"sort": "last_seen", "after": token})

    assert response.status_code == 400
    assert "start from the first page" in response.content.decode()


# --- device detail: the device page is workspace's (tests/workspace/test_device_page.py) ---


# --- signing in ------------------------------------------------------------------


def test_login_page_shows_an_error_summary_for_a_wrong_password(client, asset_manager):
    response = client.post(
        reverse("login"), {"username": asset_manager.username, "password": "wrong"}
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "govuk-error-summary" in html
    assert 'href="#id_username"' in html


def test_repeated_failures_lock_the_account_with_a_friendly_page(client, asset_manager, settings):
    # Given lockout after three failures (the test settings switch axes off by default)
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(3):
        client.post(reverse("login"), {"username": asset_manager.username, "password": "wrong"})

    # When the right password is then tried
    response = client.post(
        reverse("login"),
        {"username": asset_manager.username, "password": "correct-horse-battery"},
    )

    # Then the account stays locked and the page explains it in GOV.UK style
    html = response.content.decode()
    assert response.status_code == 429
    assert "Your account is locked for now" in html
    assert "govuk-template" in html
    assert "_auth_user_id" not in client.session


def test_sign_out_is_a_post_and_returns_to_the_login_page(client, asset_manager):
    client.force_login(asset_manager)

    response = client.post(reverse("logout"))

    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert "_auth_user_id" not in client.session


def test_base_layout_marks_the_signed_in_user_and_navigation(client, asset_manager):
    client.force_login(asset_manager)

    html = client.get(reverse("dashboard")).content.decode()

    assert 'data-test="username">' + asset_manager.username in html
    assert 'aria-current="page"' in html
    assert reverse("devices:device_list") in html


# --- error pages ------------------------------------------------------------------


def test_not_found_page_is_the_govuk_layout(client, asset_manager):
    client.force_login(asset_manager)

    response = client.get("/no-such-page/")

    html = response.content.decode()
    assert response.status_code == 404
    assert "Page not found" in html
    assert "govuk-header" in html


def test_server_error_page_renders_without_a_request_context(rf):
    from django.views.defaults import server_error

    response = server_error(rf.get("/"))

    html = response.content.decode()
    assert response.status_code == 500
    assert "Sorry, there is a problem with the service" in html
    assert "govuk-footer" in html


def test_permission_denied_page_is_the_govuk_layout(rf, asset_manager):
    from django.core.exceptions import PermissionDenied
    from django.views.defaults import permission_denied

    request = rf.get("/")
    request.user = asset_manager
    response = permission_denied(request, PermissionDenied())

    assert response.status_code == 403
    assert "You do not have access to this page" in response.content.decode()


def test_an_integration_account_cannot_sign_in_even_with_a_password(client):
    from accounts.services import user_create

    user_create(username="itsm", role="integration", password="Given-By-Mistake-99")

    response = client.post(
        reverse("login"), {"username": "itsm", "password": "Given-By-Mistake-99"}
    )

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert "integration account" in response.content.decode()


def test_an_integration_account_without_a_password_cannot_sign_in(client):
    from accounts.services import user_create

    user_create(username="mdm", role="integration", password=None)

    response = client.post(reverse("login"), {"username": "mdm", "password": ""})

    assert "_auth_user_id" not in client.session
    assert "govuk-error-summary" in response.content.decode()
