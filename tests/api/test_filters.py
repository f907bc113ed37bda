"""Issue 16: an API list given a parameter it does not know, or a business unit the
caller cannot see, answers 400 naming it (api/filters.py), never everything the
caller may see. Every list endpoint of the project is found from the URL
configuration, so a new one is checked without a row here."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from accounts.roles import Role
from reports.models import ReportRun

pytestmark = pytest.mark.django_db


def _list_paths(patterns=None, namespace="") -> list[str]:
    """Every API list URL: each router's ``list`` route, reversed by its name."""
    found = []
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            found += _list_paths(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            actions = getattr(pattern.callback, "actions", None) or {}
            if actions.get("get") == "list" and not pattern.pattern.regex.groups:
                path = reverse(namespace + pattern.name)
                if path.startswith("/api/v1/"):
                    found.append(path)
    return sorted(set(found))


LIST_PATHS = _list_paths()


def test_the_walk_finds_the_lists():
    assert {"/api/v1/devices/", "/api/v1/events/", "/api/v1/reports/runs/"} <= set(LIST_PATHS)


@pytest.mark.parametrize("path", LIST_PATHS)
def test_every_list_refuses_an_unknown_parameter_by_name(client, make_user, path):
    client.force_login(make_user(Role.FINANCE))

    response = client.get(path, {"serial_number": "X1", "page_size": "5"})

    assert response.status_code == 400, response.content[:300]
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert list(error["fields"]) == ["serial_number"]
    assert "Unknown parameter" in error["fields"]["serial_number"][0]


@pytest.mark.parametrize("path", LIST_PATHS)
def test_every_list_still_answers_with_its_own_parameters(client, make_user, path):
    client.force_login(make_user(Role.FINANCE))

    response = client.get(path, {"page_size": "5", "format": "json"})

    assert response.status_code == 200, response.content[:300]


def test_the_devices_filters_and_paging_are_known(api_as, integration, estate):
    api = api_as(integration)
    first = api.get("/api/v1/devices/?page_size=1&status=in_stock&purchase_date_after=2020-01-01")
    assert first.status_code == 200
    follow = first.json()["next"].split("/api/v1/devices/")[1]
    assert api.get(f"/api/v1/devices/{follow}").status_code == 200
    assert api.get("/api/v1/devices/?last_seen_before=2030-01-01T00:00:00Z").status_code == 200


def test_a_view_that_reads_documented_parameters_keeps_them(api_as, make_user, estate):
    """The reports list reads ``kind``, ``business_unit`` and ``period`` itself; its
    schema documents them, so they are known."""
    viewer = make_user(Role.UNIT_VIEWER, units=[estate.north])
    ReportRun.objects.create(
        kind=ReportRun.Kind.STEWARDSHIP,
        business_unit=estate.north,
        period_start=dt.date(2026, 9, 1),
        period_end=dt.date(2026, 9, 30),
        status=ReportRun.Status.SUCCEEDED,
        finished_at=timezone.now(),
    )

    response = api_as(viewer).get(
        f"/api/v1/reports/runs/?kind=stewardship&period=2026-09&business_unit={estate.north.pk}"
    )

    assert response.status_code == 200
    assert len(response.json()["results"]) == 1


@pytest.mark.parametrize("unit", ["SOUTH", "NO-SUCH-UNIT"])
@pytest.mark.parametrize("path", ["/api/v1/devices/", "/api/v1/people/"])
def test_a_unit_outside_the_scope_is_refused_without_saying_it_exists(
    api_as, north_viewer, estate, unit, path
):
    response = api_as(north_viewer).get(f"{path}?business_unit={unit}")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "business_unit": [f"Business unit {unit} is not a unit you can see."]
    }


def test_a_unit_outside_the_scope_is_refused_by_id_too(api_as, north_viewer, estate):
    response = api_as(north_viewer).get(f"/api/v1/reports/runs/?business_unit={estate.south.pk}")

    assert response.status_code == 400
    assert "is not a unit you can see" in response.json()["error"]["fields"]["business_unit"][0]


def test_a_unit_in_scope_filters_as_before(api_as, north_viewer, estate):
    response = api_as(north_viewer).get("/api/v1/devices/?business_unit=NORTH-A")

    assert response.status_code == 200
    assert [d["serial_number"] for d in response.json()["results"]] == ["NASERIAL1"]


def test_every_problem_is_named_at_once(api_as, north_viewer, estate):
    response = api_as(north_viewer).get("/api/v1/devices/?colour=red&business_unit=SOUTH&x=1")

    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"colour", "x", "business_unit"}


def test_one_device_and_writes_are_not_checked(api_as, integration, estate):
    """Only lists: one object is found by its address, whatever else the URL says."""
    response = api_as(integration).get(f"/api/v1/devices/{estate.north_device.pk}/?extra=1")
    assert response.status_code == 200


def test_a_devices_events_list_refuses_an_unknown_parameter_and_one_device_ignores_none(
    client, make_user
):
    from tests.factories import DeviceFactory

    device = DeviceFactory()
    client.force_login(make_user(Role.ASSET_MANAGER))

    events = client.get(f"/api/v1/devices/{device.pk}/events/", {"kind": "lost"})
    one = client.get(f"/api/v1/devices/{device.pk}/")

    assert events.status_code == 400, events.content[:300]
    assert list(events.json()["error"]["fields"]) == ["kind"]
    assert one.status_code == 200
