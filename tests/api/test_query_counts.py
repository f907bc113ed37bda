"""Every API list costs the same number of queries however many rows it shows.

Each list is read with N and then N+k rows and must cost exactly the same.
The queries (force_authenticate, so no token lookup):
  1. the caller's groups (roles, for the permission check; cached on the user)
  2. the caller's business-unit scope paths (cached on the user)
  3. the page itself: one SELECT with its joins, LIMIT page_size + 1 (no COUNT)
A device's events list adds one query for the device (get_object).
"""

import pytest
from rest_framework.test import APIClient

from accounts.roles import Role
from tests.factories import (
    BusinessUnitFactory,
    DeviceEventFactory,
    DeviceFactory,
    DeviceModelFactory,
    PersonFactory,
)

pytestmark = pytest.mark.django_db


def client_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def count_queries(django_assert_num_queries, user, url, expected):
    # A fresh user object each time, so the role and scope caches start empty.
    from django.contrib.auth import get_user_model

    fresh = get_user_model().objects.get(pk=user.pk)
    with django_assert_num_queries(expected):
        response = client_for(fresh).get(url)
    assert response.status_code == 200
    return len(response.json()["results"])


@pytest.fixture
def viewer(make_user, estate):
    return make_user(Role.UNIT_VIEWER, units=[estate.north])


def add_devices(estate, k):
    for i in range(k):
        person = PersonFactory(business_unit=estate.north_a)
        device = DeviceFactory(
            business_unit=estate.north_a,
            status="deployed",
            assigned_to=person,
            device_model=DeviceModelFactory(name=f"Model {i}"),
        )
        DeviceEventFactory(device=device)
        DeviceEventFactory(device=estate.north_device)
        BusinessUnitFactory(parent=estate.north)


@pytest.mark.parametrize(
    ("url", "queries"),
    [
        ("/api/v1/devices/", 3),  # roles, scope, page (devices + model, maker, unit, person)
        # roles, scope, the unit is one the caller can see (api/filters.py), the ids of
        # the unit and its sub-units, page
        ("/api/v1/devices/?business_unit=NORTH&status=deployed", 5),
        ("/api/v1/events/", 3),  # roles, scope, page (events + recorder)
        ("/api/v1/business-units/", 3),  # roles, scope, page (units + parent)
        ("/api/v1/people/", 3),  # roles, scope, page (people + unit + role profile)
        ("/api/v1/device-models/", 2),  # roles, page (models + maker); the catalogue is unscoped
    ],
)
def test_list_query_count_does_not_grow_with_rows(
    django_assert_num_queries, viewer, estate, url, queries
):
    before = count_queries(django_assert_num_queries, viewer, url, queries)
    add_devices(estate, 4)

    after = count_queries(django_assert_num_queries, viewer, url, queries)

    assert after > before


def test_device_events_query_count_does_not_grow_with_rows(
    django_assert_num_queries, viewer, estate
):
    # roles, scope, the device (get_object), the events page (events + recorder)
    url = f"/api/v1/devices/{estate.north_device.pk}/events/"
    DeviceEventFactory(device=estate.north_device)
    before = count_queries(django_assert_num_queries, viewer, url, 4)
    add_devices(estate, 3)

    after = count_queries(django_assert_num_queries, viewer, url, 4)

    assert after > before


def test_commercial_caller_costs_no_extra_query(django_assert_num_queries, make_user, estate):
    finance = make_user(Role.FINANCE)
    count_queries(django_assert_num_queries, finance, "/api/v1/devices/", 3)
    add_devices(estate, 3)

    count_queries(django_assert_num_queries, finance, "/api/v1/devices/", 3)


def test_a_device_read_and_a_location_change_cost_a_fixed_few_queries(make_user, estate):
    """A GET of one device: groups, scope, the device (no list filter set built). A
    PATCH of its location: groups, scope, the device, then in one transaction the
    locked read, the compare-and-swap UPDATE, the event (its two foreign keys checked)
    and the history row, and the device read back; no re-validation of the fields
    and constraints it leaves as they were (a foreign key, a unique field or a CHECK
    each cost a query)."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    user = make_user(Role.INTEGRATION)
    device = DeviceFactory(business_unit=estate.north)

    def run(method, **kwargs):
        fresh = get_user_model().objects.get(pk=user.pk)
        with CaptureQueriesContext(connection) as captured:
            response = getattr(client_for(fresh), method)(f"/api/v1/devices/{device.pk}/", **kwargs)
        assert response.status_code == 200, response.content
        return [q["sql"] for q in captured], response

    read, response = run("get")
    assert len(read) == 3, read
    write, _ = run(
        "patch",
        data={"location": "Moved"},
        format="json",
        HTTP_IF_MATCH=response["ETag"],
    )
    data_queries = [
        q for q in write if not q.startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "BEGIN", "COMMIT"))
    ]
    assert not [q for q in write if '"_check"' in q], "CHECKs of unchanged fields re-run"
    assert len(data_queries) <= 12, data_queries
