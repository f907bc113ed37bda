"""A scoped user sees only their units and sub-units, everywhere."""

import pytest

from accounts.roles import Role
from accounts.scoping import unit_scope
from devices import selectors
from tests.factories import BusinessUnitFactory, DeviceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def tree():
    root = BusinessUnitFactory(code="MET", level="directorate")
    north = BusinessUnitFactory(code="N", parent=root, level="command")
    north_a = BusinessUnitFactory(code="NA", parent=north)
    # A sibling whose code starts with the same letters must not leak in.
    north_other = BusinessUnitFactory(code="NAB", parent=root, level="command")
    return {"root": root, "north": north, "north_a": north_a, "north_other": north_other}


def test_a_viewer_scoped_to_a_command_sees_its_sub_units_and_nothing_else(tree, make_user):
    DeviceFactory(business_unit=tree["north"])
    DeviceFactory(business_unit=tree["north_a"])
    DeviceFactory(business_unit=tree["north_other"])
    DeviceFactory(business_unit=tree["root"])
    viewer = make_user(Role.UNIT_VIEWER, units=[tree["north"]])

    visible = selectors.device_list(user=viewer)

    assert sorted(d.business_unit.code for d in visible) == ["N", "NA"]


def test_a_viewer_with_no_unit_sees_nothing(tree, make_user):
    DeviceFactory(business_unit=tree["north"])
    viewer = make_user(Role.UNIT_VIEWER)
    assert unit_scope(viewer).empty
    assert not selectors.device_list(user=viewer).exists()


def test_an_unscoped_asset_manager_sees_the_whole_estate(tree, make_user):
    DeviceFactory(business_unit=tree["north"])
    DeviceFactory(business_unit=tree["north_other"])
    manager = make_user(Role.ASSET_MANAGER)
    assert selectors.device_list(user=manager).count() == 2


def test_a_finance_officer_can_be_scoped_too(tree, make_user):
    DeviceFactory(business_unit=tree["north"])
    DeviceFactory(business_unit=tree["north_other"])
    finance = make_user(Role.FINANCE, units=[tree["north_other"]])
    assert [d.business_unit.code for d in selectors.device_list(user=finance)] == ["NAB"]


def test_estate_counts_cover_only_the_scope(tree, make_user):
    DeviceFactory.create_batch(3, business_unit=tree["north_a"])
    DeviceFactory.create_batch(5, business_unit=tree["north_other"])
    viewer = make_user(Role.UNIT_VIEWER, units=[tree["north"]])
    counts = selectors.estate_counts(user=viewer)
    assert counts["total"] == 3
    laptop_row = next(r for r in counts["rows"] if r["category"] == "laptop")
    assert laptop_row["by_status"]["in_stock"] == 3
