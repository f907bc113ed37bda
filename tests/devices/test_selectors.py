"""Selectors behind the estate pages: search, keyset pages, scope names, change history."""

from decimal import Decimal

import pytest

from accounts.roles import Role
from devices import selectors
from devices.models import Device
from tests.factories import BusinessUnitFactory, DeviceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def units():
    root = BusinessUnitFactory(code="MET", name="Metropolitan", level="directorate")
    return {
        "root": root,
        "north": BusinessUnitFactory(code="N", name="North", parent=root, level="command"),
        "south": BusinessUnitFactory(code="S", name="South", parent=root, level="command"),
    }


def test_scope_unit_names_is_none_for_an_unrestricted_user(asset_manager):
    assert selectors.scope_unit_names(user=asset_manager) is None


def test_scope_unit_names_lists_a_scoped_users_units(make_user, units):
    viewer = make_user(Role.UNIT_VIEWER, units=[units["south"], units["north"]])
    assert selectors.scope_unit_names(user=viewer) == ["North", "South"]


def test_scope_unit_names_is_empty_for_an_unscoped_viewer(make_user):
    assert selectors.scope_unit_names(user=make_user(Role.UNIT_VIEWER)) == []


def test_device_search_never_leaves_the_scope_even_when_the_search_matches(make_user, units):
    DeviceFactory(asset_tag="ABC1", business_unit=units["north"])
    DeviceFactory(asset_tag="ABC2", business_unit=units["south"])
    viewer = make_user(Role.UNIT_VIEWER, units=[units["north"]])

    found = selectors.device_search(user=viewer, q="ABC")

    assert [d.asset_tag for d in found] == ["ABC1"]


def test_device_search_by_serial_prefix_is_case_insensitive(asset_manager, units):
    DeviceFactory(serial_number="5CG1234XYZ", business_unit=units["north"])
    DeviceFactory(serial_number="PF3ABCDE", business_unit=units["north"])

    found = selectors.device_search(user=asset_manager, q=" 5cg12 ")

    assert [d.serial_number for d in found] == ["5CG1234XYZ"]


def test_device_get_returns_none_outside_the_scope(make_user, units):
    device = DeviceFactory(business_unit=units["south"])
    viewer = make_user(Role.UNIT_VIEWER, units=[units["north"]])
    assert selectors.device_get(user=viewer, pk=device.pk) is None


def test_change_history_shows_status_by_label_and_who_changed_it(asset_manager, units):
    device = DeviceFactory(business_unit=units["north"])
    device.status = Device.Status.IN_REPAIR
    device._history_user = asset_manager
    device.save()

    history = selectors.device_change_history(user=asset_manager, device=device)

    latest = history[0]
    assert latest["who"] == asset_manager
    assert latest["kind"] == "Changed"
    assert {"field": "status", "label": "status", "old": "In stock", "new": "In repair"} in latest[
        "changes"
    ]
    assert history[-1]["kind"] == "Created"


def test_change_history_leaves_out_purchase_cost_for_non_commercial_users(
    asset_manager, finance_officer, units
):
    device = DeviceFactory(business_unit=units["north"], purchase_cost=Decimal("10.00"))
    device.purchase_cost = Decimal("20.00")
    device.save()

    for_manager = selectors.device_change_history(user=asset_manager, device=device)
    for_finance = selectors.device_change_history(user=finance_officer, device=device)

    manager_fields = {c["field"] for entry in for_manager for c in entry["changes"]}
    finance_fields = {c["field"] for entry in for_finance for c in entry["changes"]}
    assert "purchase_cost" not in manager_fields
    assert "purchase_cost" in finance_fields
