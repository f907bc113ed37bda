"""Devices whose serial number was never recorded (issue "Figures that agree": Snipe-IT's
own sample import file, keyed by asset tag with no serial column, was refused whole).

A device may be recorded by its asset tag alone; a later row with the same tag and a
serial number records the serial on it; pages, certificates and reports say "Not
recorded" where the serial would be, and data exports leave the cell blank."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from pypdf import PdfReader
from rest_framework.test import APIClient

from devices.importing.services import devices_upsert_rows
from devices.models import SERIAL_NOT_RECORDED, Device, DeviceEvent, ImportRun
from reports import selectors as report_selectors
from tests.factories import (
    BusinessUnitFactory,
    DeviceFactory,
    DeviceModelFactory,
    ManufacturerFactory,
    PersonFactory,
)

pytestmark = pytest.mark.django_db

BULK = "/api/v1/devices/bulk/"
DEVICES = "/api/v1/devices/"
# Snipe-IT's sample asset import file (sample_csvs/assets-sample.csv in Snipe-IT): its
# header exactly, rows of a police estate (units as companies, staff numbers as
# usernames). No serial column.
SNIPE_SAMPLE = Path(__file__).parent / "files" / "snipe_it_assets_sample.csv"


@pytest.fixture
def unit():
    return BusinessUnitFactory(code="CE", name="Central East")


@pytest.fixture
def laptop():
    return DeviceModelFactory(
        manufacturer=ManufacturerFactory(name="Dell"), name="Latitude 5440", category="laptop"
    )


@pytest.fixture
def tag_only(unit, laptop, asset_manager):
    """A laptop recorded by its asset tag MPS0100 alone, through the importer."""
    outcome = devices_upsert_rows(
        rows=[row(asset_tag="MPS0100", location="Lambeth HQ")], actor=asset_manager, source="t"
    )
    assert outcome.created == 1, outcome.results
    return Device.objects.get(asset_tag="MPS0100")


def row(**values):
    base = {
        "manufacturer": "Dell",
        "model": "Latitude 5440",
        "category": "laptop",
        "business_unit": "CE",
    }
    return {**base, **values}


def run_import(path, *args):
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("import_estate", str(path), *args, stdout=out, stderr=err)
    return exit_.value.code, out.getvalue() + err.getvalue()


def csv_file(tmp_path, rows, header):
    path = tmp_path / "estate.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return path


# --- Snipe-IT's sample import file ------------------------------------------------------


def test_snipe_its_sample_import_file_creates_every_row_in_an_empty_estate(asset_manager):
    # Given an estate with its units and people but no devices
    BusinessUnitFactory(code="CE", name="Central East")
    south_west = BusinessUnitFactory(code="SW", name="South West")
    for staff_number in ("S1000001", "S2000001", "S2000002"):
        PersonFactory(staff_number=staff_number, business_unit=south_west)
    with SNIPE_SAMPLE.open(newline="", encoding="utf-8") as handle:
        sample = list(csv.DictReader(handle))
    assert "Serial Number" not in sample[0] and len(sample) == 9

    # When Snipe-IT's file is imported as it is
    code, output = run_import(SNIPE_SAMPLE, "--mapping", "snipe-it")

    # Then every row is a device, recorded by its asset tag with no serial number
    run = ImportRun.objects.get()
    assert code == 0, output
    assert (run.created_count, run.updated_count, run.rejected_count) == (9, 0, 0)
    devices = {d.asset_tag: d for d in Device.objects.select_related("assigned_to", "device_model")}
    assert set(devices) == {r["Asset Tag"] for r in sample}
    assert {d.serial_number for d in devices.values()} == {None}
    for line in sample:
        device = devices[line["Asset Tag"]]
        assert device.business_unit.name == line["Company"]
        assert device.device_model.name == line["Model"]
        assert str(device.purchase_cost) == line["Purchase Cost"]
        holder = line["Checked Out To: Username"]
        if holder:
            assert (device.status, device.assigned_to.staff_number) == ("deployed", holder)
        else:
            assert (device.status, device.assigned_to) == ("in_stock", None)
    assert devices["MPS-100005"].device_model.category == "smartphone"
    # Each with the same "imported" event as any created device
    assert DeviceEvent.objects.filter(kind="imported").count() == 9

    # And importing it again changes nothing: each row finds its device by tag
    code, output = run_import(SNIPE_SAMPLE, "--mapping", "snipe-it")
    assert code == 0, output
    again = ImportRun.objects.latest("pk")
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 9)
    assert Device.objects.count() == 9


# --- creating without a serial ------------------------------------------------------


def test_the_importer_creates_a_device_recorded_by_its_tag_alone(tag_only):
    assert (tag_only.serial_number, tag_only.location, tag_only.version) == (
        None,
        "Lambeth HQ",
        1,
    )
    event = DeviceEvent.objects.get(device=tag_only)
    assert (event.kind, event.source, event.to_status) == ("imported", "t", "in_stock")


def test_the_bulk_api_creates_a_device_with_an_asset_tag_and_no_serial(unit, asset_manager):
    api = APIClient()
    api.force_authenticate(asset_manager)

    response = api.post(
        BULK, [row(asset_tag="MPS0200", serial_number=""), row(asset_tag="MPS0201")], format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["counts"]["created"] == 2
    created = Device.objects.filter(asset_tag__in=["MPS0200", "MPS0201"])
    assert [d.serial_number for d in created] == [None, None]


def test_the_bulk_api_refuses_an_item_with_neither_naming_both_fields(unit, asset_manager):
    api = APIClient()
    api.force_authenticate(asset_manager)

    response = api.post(BULK, [row(location="Hendon")], format="json")

    [result] = response.json()["results"]
    assert result["outcome"] == "error"
    assert set(result["errors"]) == {"serial_number", "asset_tag"}
    assert result["codes"] == {"serial_number": "required", "asset_tag": "required"}
    assert not Device.objects.exists()


def test_posting_a_device_with_an_asset_tag_and_no_serial_registers_it(unit, asset_manager):
    api = APIClient()
    api.force_authenticate(asset_manager)

    response = api.post(DEVICES, row(asset_tag="MPS0300"), format="json")

    assert response.status_code == 201, response.content
    assert (response.json()["asset_tag"], response.json()["serial_number"]) == ("MPS0300", None)
    device = Device.objects.get(asset_tag="MPS0300")
    assert device.serial_number is None
    assert DeviceEvent.objects.get(device=device).kind == "imported"


@pytest.mark.parametrize("serial", [None, "", "   "], ids=["null", "empty", "blank"])
def test_posting_a_device_with_neither_is_a_400_naming_both_fields(unit, asset_manager, serial):
    api = APIClient()
    api.force_authenticate(asset_manager)
    body = row(serial_number=serial) if serial is not None else row()

    response = api.post(DEVICES, body, format="json")

    assert response.status_code == 400, response.content
    assert set(response.json()["error"]["fields"]) == {"serial_number", "asset_tag"}
    assert not Device.objects.exists()


def test_a_person_given_two_tag_only_laptops_is_past_the_entitlement(unit, asset_manager):
    # Devices without a serial are told apart by their tags when entitlement is counted
    PersonFactory(staff_number="P1", business_unit=unit)  # role allows one laptop
    outcome = devices_upsert_rows(
        rows=[
            row(asset_tag="MPS0400", status="deployed", assigned_to="P1"),
            row(asset_tag="MPS0401", status="deployed", assigned_to="P1"),
        ],
        actor=asset_manager,
        source="t",
    )

    assert outcome.created == 1
    assert outcome.results[1].codes == {"assigned_to": "entitlement_exceeded"}


# --- recording the serial later ---------------------------------------------------------


def test_a_later_row_with_the_tag_and_a_serial_records_the_serial(tag_only, asset_manager):
    outcome = devices_upsert_rows(
        rows=[row(asset_tag="MPS0100", serial_number="SN-LATER", location="Hendon")],
        actor=asset_manager,
        source="t",
    )

    assert (outcome.created, outcome.updated) == (0, 1), outcome.results
    tag_only.refresh_from_db()
    assert (tag_only.serial_number, tag_only.location, tag_only.version) == (
        "SN-LATER",
        "Hendon",
        2,
    )
    event = DeviceEvent.objects.filter(device=tag_only).latest("pk")
    assert event.kind == "updated"
    assert event.details["changed"]["serial_number"] == [None, "SN-LATER"]
    assert Device.objects.count() == 1
    # From now on the serial alone finds it, and a blank serial never erases it
    again = devices_upsert_rows(
        rows=[row(serial_number="SN-LATER", location="Brixton")],
        actor=asset_manager,
        source="t",
    )
    assert again.updated == 1
    devices_upsert_rows(
        rows=[row(asset_tag="MPS0100", serial_number="", location="Camden")],
        actor=asset_manager,
        source="t",
    )
    tag_only.refresh_from_db()
    assert (tag_only.serial_number, tag_only.location) == ("SN-LATER", "Camden")


def test_a_later_row_recording_the_serial_and_moving_the_status_goes_through_the_mover(
    tag_only, asset_manager, unit
):
    PersonFactory(staff_number="P1", business_unit=unit)
    outcome = devices_upsert_rows(
        rows=[
            row(asset_tag="MPS0100", serial_number="SN-MOVED", status="deployed", assigned_to="P1")
        ],
        actor=asset_manager,
        source="t",
    )

    assert outcome.updated == 1, outcome.results
    tag_only.refresh_from_db()
    assert (tag_only.serial_number, tag_only.status) == ("SN-MOVED", "deployed")
    kinds = list(DeviceEvent.objects.filter(device=tag_only).values_list("kind", flat=True))
    assert kinds == ["imported", "deployed", "updated"]


def test_a_file_records_serials_on_devices_recorded_by_tag(tag_only, tmp_path):
    path = csv_file(
        tmp_path,
        [{**row(asset_tag="MPS0100", serial_number="SN-FILE"), "location": "Hendon"}],
        header=[
            "serial_number",
            "asset_tag",
            "manufacturer",
            "model",
            "category",
            "business_unit",
            "location",
        ],
    )

    code, output = run_import(path)

    assert code == 0, output
    tag_only.refresh_from_db()
    assert (tag_only.serial_number, tag_only.location) == ("SN-FILE", "Hendon")


def test_the_dry_run_shows_the_serial_it_would_record(tag_only, tmp_path):
    path = csv_file(
        tmp_path,
        [row(asset_tag="MPS0100", serial_number="SN-DRY")],
        header=["serial_number", "asset_tag", "manufacturer", "model", "category", "business_unit"],
    )

    code, output = run_import(path, "--dry-run")

    assert code == 0, output
    run = ImportRun.objects.get()
    assert run.updated_count == 1
    assert run.field_changes == {"serial_number": 1}
    assert "serial_number 1" in output
    tag_only.refresh_from_db()
    assert tag_only.serial_number is None


def test_a_serial_for_a_tag_whose_device_has_another_serial_is_an_error_naming_both(
    unit, laptop, asset_manager
):
    DeviceFactory(
        serial_number="SN-TAGGED", asset_tag="MPS0001", manufacturer=laptop.manufacturer,
        device_model=laptop, business_unit=unit,
    )  # fmt: skip

    outcome = devices_upsert_rows(
        rows=[row(asset_tag="MPS0001", serial_number="SN-OTHER")], actor=asset_manager, source="t"
    )

    [message] = outcome.results[0].errors["asset_tag"]
    assert "MPS0001" in message and "SN-TAGGED" in message and "SN-OTHER" in message
    assert Device.objects.get(asset_tag="MPS0001").serial_number == "SN-TAGGED"
    assert not Device.objects.filter(serial_number="SN-OTHER").exists()


def test_a_serial_another_device_has_cannot_be_recorded_on_a_tag_only_device(
    tag_only, unit, laptop, asset_manager
):
    DeviceFactory(
        serial_number="SN-TAKEN", manufacturer=laptop.manufacturer, device_model=laptop,
        business_unit=unit,
    )  # fmt: skip

    outcome = devices_upsert_rows(
        rows=[row(asset_tag="MPS0100", serial_number="SN-TAKEN")], actor=asset_manager, source="t"
    )

    [message] = outcome.results[0].errors["asset_tag"]
    assert "MPS0100" in message and "SN-TAKEN" in message and "not recorded" in message
    tag_only.refresh_from_db()
    assert tag_only.serial_number is None


def test_the_tag_of_a_device_without_a_serial_cannot_be_cleared(tag_only, asset_manager):
    # Its tag is how it is known: the API's update refuses to clear it, naming the field
    api = APIClient()
    api.force_authenticate(asset_manager)
    for body in ({"asset_tag": None}, {"asset_tag": ""}):
        response = api.patch(f"{DEVICES}{tag_only.pk}/", body, format="json")
        assert response.status_code == 400, response.content
        assert set(response.json()["error"]["fields"]) == {"asset_tag"}
    # and a row clearing the tag without a serial names no device at all
    outcome = devices_upsert_rows(
        rows=[row(asset_tag="[clear]", location="X")], actor=asset_manager, source="t"
    )
    assert outcome.results[0].codes == {"serial_number": "required", "asset_tag": "required"}
    tag_only.refresh_from_db()
    assert (tag_only.asset_tag, tag_only.version) == ("MPS0100", 1)


# --- the database -----------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("sql", "constraint"),
    [
        (
            "INSERT INTO devices_device (serial_number, asset_tag, manufacturer_id, "
            "device_model_id, status, business_unit_id, location, os_version, historical, "
            "version, created_at, updated_at) SELECT NULL, NULL, manufacturer_id, "
            "device_model_id, 'in_stock', business_unit_id, '', '', false, 1, now(), now() "
            "FROM devices_device WHERE id = %s",
            "serial_or_tag",
        ),
        (
            "UPDATE devices_device SET serial_number = NULL, asset_tag = '' WHERE id = %s",
            "serial_or_tag",
        ),
        ("UPDATE devices_device SET serial_number = '' WHERE id = %s", "serial_not_blank"),
    ],
    ids=["insert-neither", "blank-tag-no-serial", "blank-serial"],
)
def test_postgresql_refuses_a_device_with_neither_naming_the_check(unit, laptop, sql, constraint):
    device = DeviceFactory(
        serial_number="SN-1", asset_tag="T-1", manufacturer=laptop.manufacturer,
        device_model=laptop, business_unit=unit,
    )  # fmt: skip
    with (
        pytest.raises(IntegrityError, match=f"devices_device_{constraint}"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [device.pk])
    assert list(Device.objects.values_list("serial_number", "asset_tag")) == [("SN-1", "T-1")]


def test_many_devices_of_one_maker_may_have_no_serial(unit, laptop):
    for tag in ("T1", "T2", "T3"):
        DeviceFactory(
            serial_number=None, asset_tag=tag, manufacturer=laptop.manufacturer,
            device_model=laptop, business_unit=unit,
        )  # fmt: skip
    assert Device.objects.filter(serial_number__isnull=True).count() == 3


# --- what people see ----------------------------------------------------------------


def test_the_device_page_list_and_custody_page_say_not_recorded(client, asset_manager, tag_only):
    client.force_login(asset_manager)

    pages = {
        "device page": client.get(f"/devices/{tag_only.pk}/"),
        "list": client.get("/devices/?q=MPS0100"),
        "list by serial": client.get("/devices/?sort=serial_number"),
        "custody": client.get(f"/disposals/devices/{tag_only.pk}/custody/"),
    }

    for name, response in pages.items():
        assert response.status_code == 200, name
        text = response.content.decode()
        assert SERIAL_NOT_RECORDED in text, name
        assert ">None<" not in text, name


def test_the_timeline_shows_the_serial_recorded_later(client, asset_manager, tag_only):
    devices_upsert_rows(
        rows=[row(asset_tag="MPS0100", serial_number="SN-LATER")], actor=asset_manager, source="t"
    )
    client.force_login(asset_manager)

    text = " ".join(client.get(f"/devices/{tag_only.pk}/").content.decode().split())

    assert f"Serial number: {SERIAL_NOT_RECORDED} → SN-LATER" in text


def test_the_stewardship_report_rows_say_not_recorded(unit, asset_manager):
    PersonFactory(staff_number="P1", business_unit=unit)
    devices_upsert_rows(
        rows=[row(asset_tag="MPS0500", status="deployed", assigned_to="P1")],
        actor=asset_manager,
        source="t",
    )

    rows = report_selectors.stewardship_device_rows(
        unit=unit, period_end=timezone.localdate(), idle_days=90
    )

    [line] = [r for r in rows if r[0] == "MPS0500"]
    assert (line[1], line[7]) == (SERIAL_NOT_RECORDED, "P1")


def test_searching_by_serial_passes_over_devices_without_one(client, asset_manager, tag_only):
    DeviceFactory(
        serial_number="SN-FINDME", manufacturer=tag_only.manufacturer,
        device_model=tag_only.device_model, business_unit=tag_only.business_unit,
    )  # fmt: skip
    client.force_login(asset_manager)

    text = client.get("/devices/?q=SN-FIND").content.decode()

    assert "SN-FINDME" in text and "MPS0100" not in text


def test_the_custody_certificate_says_not_recorded(client, asset_manager, tag_only):
    client.force_login(asset_manager)

    response = client.get(f"/disposals/devices/{tag_only.pk}/custody.pdf")

    assert response.status_code == 200
    pdf = b"".join(response.streaming_content) if response.streaming else response.content
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert f"Serial number {SERIAL_NOT_RECORDED}" in " ".join(text.split())


def test_the_device_export_leaves_the_serial_blank(client, asset_manager, tag_only):
    client.force_login(asset_manager)

    response = client.get("/devices/?format=csv")

    assert response.status_code == 200
    lines = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
    [line] = [cells for cells in csv.reader(lines) if cells and cells[0] == "MPS0100"]
    assert line[1] == ""
    assert "None" not in line
