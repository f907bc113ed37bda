"""Which device a row is (issue "Figures that agree": files keyed the way real exports
are): manufacturer + serial number, or the asset tag when the row has no serial
number, never both disagreeing; and Snipe-IT's own import template and export."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from accounts.roles import Role
from devices.importing.services import devices_upsert_rows
from devices.models import Device, DeviceEvent, ImportRun
from tests.devices.import_files import text_file
from tests.factories import (
    BusinessUnitFactory,
    DeviceFactory,
    DeviceModelFactory,
    ManufacturerFactory,
    PersonFactory,
)

pytestmark = pytest.mark.django_db

BULK = "/api/v1/devices/bulk/"


@pytest.fixture
def unit():
    return BusinessUnitFactory(code="CE", name="Central East")


@pytest.fixture
def laptop():
    return DeviceModelFactory(
        manufacturer=ManufacturerFactory(name="Dell"), name="Latitude 5440", category="laptop"
    )


@pytest.fixture
def tagged(unit, laptop):
    """A device whose serial the tag-only rows do not give: SN-TAGGED, tag MPS0001."""
    return DeviceFactory(
        serial_number="SN-TAGGED",
        asset_tag="MPS0001",
        manufacturer=laptop.manufacturer,
        device_model=laptop,
        business_unit=unit,
        location="Lambeth HQ",
        status="in_stock",
    )


def row(**values):
    base = {
        "manufacturer": "Dell",
        "model": "Latitude 5440",
        "category": "laptop",
        "business_unit": "CE",
    }
    return {**base, **values}


def import_file(tmp_path, rows, *args, header=None):
    path = text_file(tmp_path / "estate.csv", rows, header=header)
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("import_estate", str(path), *args, stdout=out, stderr=err)
    return exit_.value.code, out.getvalue() + err.getvalue()


# --- matching by asset tag ------------------------------------------------------------


def test_a_row_without_a_serial_updates_the_device_with_its_asset_tag(
    tagged, asset_manager, tmp_path
):
    code, output = import_file(tmp_path, [row(asset_tag="MPS0001", location="Hendon")])

    assert code == 0, output
    tagged.refresh_from_db()
    assert (tagged.location, tagged.serial_number, tagged.version) == ("Hendon", "SN-TAGGED", 2)
    assert Device.objects.count() == 1
    event = DeviceEvent.objects.get(device=tagged)
    assert event.details["changed"] == {"location": ["Lambeth HQ", "Hendon"]}
    # Again: nothing changes.
    code, output = import_file(tmp_path, [row(asset_tag="MPS0001", location="Hendon")])
    assert code == 0 and "unchanged 1" in output


def test_the_bulk_api_matches_an_item_without_a_serial_by_asset_tag(tagged, asset_manager):
    api = APIClient()
    api.force_authenticate(asset_manager)

    response = api.post(BULK, [row(asset_tag="MPS0001", location="Hendon")], format="json")

    [result] = response.json()["results"]
    assert (result["outcome"], result["device_id"]) == ("updated", tagged.pk)
    tagged.refresh_from_db()
    assert tagged.location == "Hendon"


def test_a_row_without_a_serial_can_move_the_device_through_the_mover(tagged, asset_manager, unit):
    PersonFactory(staff_number="P1", business_unit=unit)
    outcome = devices_upsert_rows(
        rows=[row(asset_tag="MPS0001", status="deployed", assigned_to="P1")],
        actor=asset_manager,
        source="api",
    )
    assert outcome.updated == 1
    tagged.refresh_from_db()
    assert (tagged.status, tagged.assigned_to.staff_number) == ("deployed", "P1")
    assert DeviceEvent.objects.get(device=tagged).kind == "deployed"


def test_a_row_with_neither_serial_nor_tag_is_refused(unit, asset_manager):
    outcome = devices_upsert_rows(rows=[row(location="X")], actor=asset_manager, source="t")
    assert "serial_number" in outcome.results[0].errors
    assert not Device.objects.exists()


def test_the_tag_must_belong_to_a_device_of_the_rows_maker(tagged, asset_manager):
    ManufacturerFactory(name="HP")
    outcome = devices_upsert_rows(
        rows=[row(asset_tag="MPS0001", manufacturer="HP", location="Hendon")],
        actor=asset_manager,
        source="t",
    )
    [message] = outcome.results[0].errors["manufacturer"]
    assert "asset tag MPS0001 is made by Dell, not HP" in message
    tagged.refresh_from_db()
    assert tagged.location == "Lambeth HQ"


# --- serial and tag disagreeing --------------------------------------------------------


def test_a_serial_and_a_tag_naming_different_devices_is_an_error_naming_both(
    tagged, unit, laptop, asset_manager
):
    other = DeviceFactory(
        serial_number="SN-OTHER", manufacturer=laptop.manufacturer, device_model=laptop,
        business_unit=unit, location="Lambeth HQ",
    )  # fmt: skip

    outcome = devices_upsert_rows(
        rows=[row(serial_number="SN-OTHER", asset_tag="MPS0001", location="Hendon")],
        actor=asset_manager,
        source="t",
    )

    [message] = outcome.results[0].errors["asset_tag"]
    assert "MPS0001" in message and "SN-TAGGED" in message and "SN-OTHER" in message
    assert outcome.results[0].codes == {"asset_tag": "in_use"}
    for device in (tagged, other):
        device.refresh_from_db()
        assert device.location == "Lambeth HQ"


def test_outside_the_scope_the_disagreement_names_nothing_of_the_other_device(
    unit, laptop, make_user
):
    south = BusinessUnitFactory(code="SOUTH")
    DeviceFactory(
        serial_number="HIDDEN-SERIAL", asset_tag="MPS0001", manufacturer=laptop.manufacturer,
        device_model=laptop, business_unit=south,
    )  # fmt: skip
    scoped = make_user(Role.ASSET_MANAGER, units=[unit])

    by_both = devices_upsert_rows(
        rows=[row(serial_number="SN-NEW", asset_tag="MPS0001")], actor=scoped, source="t"
    )
    by_tag = devices_upsert_rows(
        rows=[row(asset_tag="MPS0001", location="Hendon")], actor=scoped, source="t"
    )

    assert by_both.results[0].errors == {"asset_tag": ["MPS0001 is already in use"]}
    assert by_tag.results[0].errors == {"asset_tag": ["MPS0001 is already in use"]}
    assert Device.objects.get(asset_tag="MPS0001").location != "Hendon"


def test_the_bulk_api_refuses_a_tag_outside_the_scope_as_not_found(unit, laptop, make_user):
    south = BusinessUnitFactory(code="SOUTH")
    hidden = DeviceFactory(
        serial_number="HIDDEN", asset_tag="MPS0001", manufacturer=laptop.manufacturer,
        device_model=laptop, business_unit=south, location="South HQ",
    )  # fmt: skip
    api = APIClient()
    api.force_authenticate(make_user(Role.INTEGRATION, units=[unit]))

    response = api.post(BULK, [row(asset_tag="MPS0001", location="Hendon")], format="json")

    assert response.json()["results"][0]["errors"] == {"business_unit": ["not found"]}
    hidden.refresh_from_db()
    assert hidden.location == "South HQ"


def test_two_rows_naming_one_device_by_serial_and_by_tag_are_both_refused(tagged, asset_manager):
    outcome = devices_upsert_rows(
        rows=[
            row(serial_number="SN-TAGGED", location="A"),
            row(asset_tag="MPS0001", location="B"),
        ],
        actor=asset_manager,
        source="t",
    )

    assert outcome.results[0].errors == {
        "serial_number": ["names the same device as row 1 of the input"]
    }
    assert outcome.results[1].errors == {
        "asset_tag": ["names the same device as row 0 of the input"]
    }
    tagged.refresh_from_db()
    assert tagged.location == "Lambeth HQ"


# --- files without a serial column ------------------------------------------------------


def test_a_file_without_a_serial_column_is_read_and_matched_by_tag(tagged, tmp_path):
    code, output = import_file(
        tmp_path,
        [row(asset_tag="MPS0001", location="Hendon"), row(asset_tag="MPS0404")],
        header=["asset_tag", "manufacturer", "model", "category", "business_unit", "location"],
    )

    assert code == 0, output
    run = ImportRun.objects.get()
    assert not run.file_unreadable
    # MPS0001 is the tagged device; MPS0404 is new, recorded without a serial number.
    assert (run.updated_count, run.created_count, run.rejected_count) == (1, 1, 0)
    assert Device.objects.get(asset_tag="MPS0404").serial_number is None


def test_a_file_with_neither_identity_column_is_refused_naming_both(unit, tmp_path):
    code, output = import_file(
        tmp_path,
        [row(location="Hendon")],
        header=["manufacturer", "model", "category", "business_unit", "location"],
    )
    assert code == 2
    assert "no serial_number or asset_tag column" in output


# --- Snipe-IT --------------------------------------------------------------------------

# Snipe-IT's own import template (sample_csvs/assets-sample.csv in Snipe-IT).
SNIPE_TEMPLATE = [
    "Company",
    "Name",
    "Asset Tag",
    "Category",
    "Supplier",
    "Manufacturer",
    "Location",
    "Order Number",
    "Model",
    "Model Notes",
    "Model Number",
    "Asset Notes",
    "Purchase Date",
    "Purchase Cost",
    "Checkout Type",
    "Checked Out To: Username",
    "Checked Out To: First Name",
    "Checked Out To: Last Name",
    "Checked Out To: Email",
    "Checked Out To: Location",
]


def _template_row(tag, **values):
    base = dict.fromkeys(SNIPE_TEMPLATE, "")
    base.update(
        {
            "Company": "Central East",
            "Name": f"Laptop {tag}",
            "Asset Tag": tag,
            "Category": "Laptops",
            "Manufacturer": "Dell",
            "Model": "Latitude 5440",
            "Model Number": "P1",
            "Purchase Date": "2023-01-23",
            "Purchase Cost": "2266.13",
        }
    )
    base.update(values)
    return base


def test_snipe_its_own_import_template_is_read_row_by_row_not_refused_whole(tagged, unit, tmp_path):
    PersonFactory(staff_number="gmccrackem2a", business_unit=unit)
    rows = [
        _template_row(
            "MPS0001",
            **{
                "Checkout Type": "User",
                "Checked Out To: Username": "gmccrackem2a",
                "Checked Out To: First Name": "Gage",
                "Checked Out To: Last Name": "McCrackem",
                "Checked Out To: Email": "gage@example.com",
                "Location": "Lambeth",
            },
        ),
        _template_row("MPS0002"),  # a new asset, recorded without a serial number
    ]

    code, output = import_file(tmp_path, rows, "--mapping", "snipe-it", header=SNIPE_TEMPLATE)

    run = ImportRun.objects.get()
    assert code == 0 and not run.file_unreadable, output
    assert (run.updated_count, run.created_count, run.rejected_count) == (1, 1, 0)
    tagged.refresh_from_db()
    # Checked out to a user, no status column: deployed, to the username's person.
    assert (tagged.status, tagged.assigned_to.staff_number) == ("deployed", "gmccrackem2a")
    assert (tagged.location, str(tagged.purchase_cost)) == ("Lambeth", "2266.13")
    assert run.error_sample == []
    assert Device.objects.get(asset_tag="MPS0002").serial_number is None
    # Names and e-mails are not imported, and the report says so.
    assert any("Checked Out To: Email" in w and "Model Number" in w for w in run.warnings)


def test_snipe_it_template_with_its_importer_aliases_creates_with_a_serial(unit, tmp_path):
    header = [*SNIPE_TEMPLATE, "Serial Number", "Last Audit", "Status"]
    rows = [
        {
            **_template_row("MPS0003"),
            "Serial Number": "SNIPE-1",
            "Last Audit": "2024-05-01 09:30:00",
            "Status": "Ready to Deploy",
        }
    ]

    code, output = import_file(tmp_path, rows, "--mapping", "snipe-it", header=header)

    assert code == 0, output
    device = Device.objects.get(serial_number="SNIPE-1")
    assert (device.asset_tag, device.status, device.business_unit) == ("MPS0003", "in_stock", unit)
    assert device.last_seen is not None
