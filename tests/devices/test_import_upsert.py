"""The shared upsert core (devices_upsert_rows): the rules the file importer
and the API's bulk endpoint both follow."""

import datetime as dt
from decimal import Decimal

import pytest

from accounts.roles import Role
from devices.importing.services import devices_upsert_rows
from devices.models import Device, DeviceEvent, DeviceModel, Manufacturer
from tests.factories import (
    BusinessUnitFactory,
    DeviceFactory,
    DeviceModelFactory,
    PersonFactory,
)

pytestmark = pytest.mark.django_db


def row(**overrides):
    base = {
        "serial_number": "SN-0001",
        "manufacturer": "Dell",
        "model": "Latitude 5440",
        "category": "laptop",
        "business_unit": "CE",
    }
    base.update(overrides)
    return base


@pytest.fixture
def unit():
    return BusinessUnitFactory(code="CE")


def test_new_rows_create_devices_with_an_imported_event(unit, asset_manager):
    outcome = devices_upsert_rows(
        rows=[row(), row(serial_number="SN-0002", purchase_cost="£1,234.56")],
        actor=asset_manager,
        source="api",
    )
    assert outcome.counts == {"created": 2, "updated": 0, "unchanged": 0, "rejected": 0}
    device = Device.objects.get(serial_number="SN-0002")
    assert device.purchase_cost == Decimal("1234.56")
    assert device.business_unit == unit
    assert device.status == Device.Status.IN_STOCK
    assert device.version == 1
    assert outcome.results[1].device_id == device.pk
    event = DeviceEvent.objects.get(device=device)
    assert event.kind == DeviceEvent.Kind.IMPORTED
    assert event.source == "api"
    assert event.recorded_by == asset_manager
    assert DeviceModel.objects.get().category == "laptop"


def test_rerunning_the_same_rows_is_a_no_op(unit, asset_manager):
    rows = [row(purchase_date="13/01/2024", last_seen="2024-05-01T09:30:00Z")]
    devices_upsert_rows(rows=rows, actor=asset_manager, source="api")
    events_before = DeviceEvent.objects.count()
    outcome = devices_upsert_rows(rows=rows, actor=asset_manager, source="api")
    assert outcome.counts["unchanged"] == 1
    assert DeviceEvent.objects.count() == events_before
    assert Device.objects.get().version == 1


def test_changed_rows_update_and_record_old_and_new_values(unit, asset_manager):
    other = BusinessUnitFactory(code="NW")
    device = DeviceFactory(
        serial_number="SN-0001",
        device_model=DeviceModelFactory(),
        business_unit=unit,
        location="Old",
    )
    outcome = devices_upsert_rows(
        rows=[row(manufacturer="DELL", business_unit="NW", location="New")],
        actor=asset_manager,
        source="import:7",
    )
    assert outcome.counts["updated"] == 1
    device.refresh_from_db()
    assert device.business_unit == other
    assert device.version == 2
    event = DeviceEvent.objects.get(device=device)
    assert event.kind == DeviceEvent.Kind.UPDATED
    assert event.source == "import:7"
    assert event.details["changed"]["location"] == ["Old", "New"]
    assert event.details["changed"]["business_unit"] == ["CE", "NW"]
    assert Manufacturer.objects.count() == 1


def test_forbidden_status_move_is_a_row_error_naming_both_statuses(unit, asset_manager):
    DeviceFactory(serial_number="SN-0001", status=Device.Status.DISPOSED, business_unit=unit)
    outcome = devices_upsert_rows(rows=[row(status="deployed")], actor=asset_manager, source="api")
    assert outcome.rejected == 1
    message = outcome.results[0].errors["status"][0]
    assert "Disposed" in message and "Deployed" in message


def test_assignment_needs_an_in_use_status(unit, asset_manager):
    person = PersonFactory(business_unit=unit)
    outcome = devices_upsert_rows(
        rows=[
            row(assigned_to=person.staff_number, status="in_stock"),
            row(serial_number="SN-2", assigned_to=person.staff_number, status="deployed"),
            row(serial_number="SN-3", assigned_to="NOPE", status="deployed"),
        ],
        actor=asset_manager,
        source="api",
    )
    assert "assigned_to" in outcome.results[0].errors
    assert outcome.results[1].outcome == "created"
    assert "NOPE" in outcome.results[2].errors["assigned_to"][0]


def test_all_or_nothing_writes_nothing_when_a_row_fails(unit, asset_manager):
    outcome = devices_upsert_rows(
        rows=[row(), row(serial_number="SN-2", business_unit="MISSING")],
        actor=asset_manager,
        source="api",
        mode="all-or-nothing",
    )
    assert outcome.rejected == 1
    assert not outcome.applied
    assert not Device.objects.exists()


def test_duplicates_in_the_input_are_errors_on_every_copy(unit, asset_manager):
    outcome = devices_upsert_rows(
        rows=[
            row(),
            row(manufacturer="dell"),
            row(serial_number="X", asset_tag="T1"),
            row(serial_number="Y", asset_tag="T1"),
        ],
        actor=asset_manager,
        source="api",
    )
    assert [r.outcome for r in outcome.results] == ["error"] * 4
    assert not Device.objects.exists()


def test_dry_run_writes_nothing(unit, asset_manager):
    outcome = devices_upsert_rows(rows=[row()], actor=asset_manager, source="api", dry_run=True)
    assert outcome.created == 1
    assert not Device.objects.exists()
    assert not Manufacturer.objects.exists()


def test_asset_tag_on_another_device_is_an_error(unit, asset_manager):
    DeviceFactory(asset_tag="MPS1", serial_number="OTHER", business_unit=unit)
    outcome = devices_upsert_rows(rows=[row(asset_tag="MPS1")], actor=asset_manager, source="api")
    assert "OTHER" in outcome.results[0].errors["asset_tag"][0]


def test_a_device_keeping_its_own_tag_is_unchanged_and_a_tag_on_another_device_still_refused(
    unit, asset_manager
):
    # Given two devices holding MPS1 and MPS2 (the first row's tag is its own
    # device's, so its owner is known without a query; the second row names a
    # tag held by another device)
    model = DeviceModelFactory(name="Latitude 5440")
    DeviceFactory(asset_tag="MPS1", serial_number="SN-0001", business_unit=unit, device_model=model)
    DeviceFactory(asset_tag="MPS2", serial_number="OTHER", business_unit=unit, device_model=model)
    # When a batch names both
    outcome = devices_upsert_rows(
        rows=[row(asset_tag="MPS1"), row(serial_number="SN-0003", asset_tag="MPS2")],
        actor=asset_manager,
        source="api",
    )
    # Then the first is unchanged and the second is refused naming the holder
    assert outcome.results[0].outcome == "unchanged"
    assert "OTHER" in outcome.results[1].errors["asset_tag"][0]


def test_scoped_user_cannot_import_into_another_unit(unit, make_user):
    mine = BusinessUnitFactory(code="MINE")
    user = make_user(Role.ASSET_MANAGER, units=[mine])
    outcome = devices_upsert_rows(
        rows=[row(), row(serial_number="2", business_unit="MINE")], actor=user, source="api"
    )
    assert "business_unit" in outcome.results[0].errors
    assert outcome.results[1].outcome == "created"


def test_values_are_typed(unit, asset_manager):
    devices_upsert_rows(
        rows=[
            row(
                serial_number="000123",
                purchase_date="2024-01-13",
                warranty_expires="13/01/2027",
                last_seen="01/05/2024 10:00",
            )
        ],
        actor=asset_manager,
        source="api",
    )
    device = Device.objects.get()
    assert device.serial_number == "000123"
    assert device.warranty_expires == dt.date(2027, 1, 13)
    assert device.last_seen == dt.datetime(2024, 5, 1, 9, 0, tzinfo=dt.UTC)


def test_json_scalars_from_the_api_follow_the_same_rules(unit, asset_manager):
    outcome = devices_upsert_rows(
        rows=[
            row(serial_number=1234, purchase_cost=899, purchase_date=None),
            row(serial_number=6.37702e15),
            row(serial_number="X1", purchase_cost=12.345),
        ],
        actor=asset_manager,
        source="api",
    )
    assert outcome.results[0].outcome == "created"
    assert Device.objects.get(serial_number="1234").purchase_cost == Decimal("899.00")
    assert "serial_number" in outcome.results[1].errors
    assert "more than two decimal places" in outcome.results[2].errors["purchase_cost"][0]


def test_a_row_with_a_bad_value_still_has_its_unknown_unit_reported(unit, asset_manager):
    outcome = devices_upsert_rows(
        rows=[row(business_unit="NOPE", purchase_date="01/13/2024")],
        actor=asset_manager,
        source="api",
    )
    errors = outcome.results[0].errors
    assert set(errors) == {"business_unit", "purchase_date"}


def test_absent_and_blank_columns_are_left_alone_and_only_the_marker_clears(unit, asset_manager):
    # Rule 5 (blank means unchanged): a blank used to clear; now only [clear] does.
    device = DeviceFactory(
        serial_number="SN-0001",
        business_unit=unit,
        location="Keep me",
        os_version="Windows 10",
        asset_tag="MPS42",
        purchase_cost=Decimal("500.00"),
        device_model=DeviceModelFactory(),
    )
    outcome = devices_upsert_rows(
        rows=[row(os_version="", asset_tag="", purchase_cost="  ")],
        actor=asset_manager,
        source="api",
    )
    assert outcome.unchanged == 1 and outcome.updated == 0
    device.refresh_from_db()
    assert device.location == "Keep me"  # column absent: untouched
    assert device.os_version == "Windows 10"  # present but blank: untouched
    assert device.asset_tag == "MPS42"
    assert device.purchase_cost == Decimal("500.00")

    outcome = devices_upsert_rows(
        rows=[row(os_version="[CLEAR]", asset_tag="[clear]", purchase_cost="[clear]")],
        actor=asset_manager,
        source="api",
    )
    assert outcome.updated == 1
    assert outcome.field_changes == {"asset_tag": 1, "os_version": 1, "purchase_cost": 1}
    device.refresh_from_db()
    assert (device.os_version, device.asset_tag, device.purchase_cost) == ("", None, None)


def test_a_required_column_cannot_be_cleared(unit, asset_manager):
    DeviceFactory(serial_number="SN-0001", business_unit=unit, device_model=DeviceModelFactory())
    outcome = devices_upsert_rows(
        rows=[row(model="[clear]", status="[clear]")], actor=asset_manager, source="api"
    )
    assert outcome.rejected == 1
    assert outcome.results[0].codes == {"model": "not_clearable", "status": "not_clearable"}


def test_leaving_use_clears_the_holder_like_a_transition_does(unit, asset_manager):
    person = PersonFactory(business_unit=unit)
    device = DeviceFactory(
        serial_number="SN-0001",
        business_unit=unit,
        status=Device.Status.DEPLOYED,
        assigned_to=person,
        device_model=DeviceModelFactory(),
    )
    devices_upsert_rows(rows=[row(status="returned")], actor=asset_manager, source="api")
    device.refresh_from_db()
    assert device.status == Device.Status.RETURNED
    assert device.assigned_to is None
    # The move went through the one mover: its event and history row, as a transition's.
    event = DeviceEvent.objects.get(device=device)
    assert (event.kind, event.from_status, event.to_status) == ("returned", "deployed", "returned")
    assert event.details == {"row": 0}
    latest = device.history.latest("history_date")
    assert (latest.status, latest.assigned_to_id, latest.history_change_reason) == (
        "returned",
        None,
        "api",
    )


def test_model_category_must_match_the_catalogue(unit, asset_manager):
    DeviceModelFactory(name="Latitude 5440", category="laptop")
    outcome = devices_upsert_rows(rows=[row(category="desktop")], actor=asset_manager, source="api")
    assert "is a laptop, not a desktop" in outcome.results[0].errors["category"][0]


@pytest.mark.postgres
def test_a_device_changed_during_the_import_is_reported_not_overwritten(
    unit, asset_manager, monkeypatch
):
    # Given a device, and another writer that changes it between the import's
    # read and its write
    from devices.importing import upsert

    device = DeviceFactory(
        serial_number="SN-0001", business_unit=unit, location="A", device_model=DeviceModelFactory()
    )
    real_write = upsert._write

    def racing_write(parsed, **kwargs):
        Device.objects.filter(pk=device.pk).update(location="Someone else", version=5)
        return real_write(parsed, **kwargs)

    monkeypatch.setattr(upsert, "_write", racing_write)
    # When the import writes
    outcome = devices_upsert_rows(rows=[row(location="B")], actor=asset_manager, source="api")
    # Then the other writer's change stands and the row says why it was refused
    device.refresh_from_db()
    assert device.location == "Someone else"
    assert "changed by someone else" in outcome.results[0].errors["serial_number"][0]
    assert not DeviceEvent.objects.filter(device=device).exists()
