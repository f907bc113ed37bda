"""The device page's timeline and field history in plain words (workspace.timeline):
field labels, "before → after", who and when, sources in words; never a raw dict,
an internal key, or a status "change" to the same status."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from accounts.roles import Role
from devices import selectors, services
from devices.models import Device, DeviceEvent
from tests.factories import (
    BusinessUnitFactory,
    DeviceEventFactory,
    DeviceFactory,
    DeviceModelFactory,
    PersonFactory,
)
from workspace.timeline import history_rows, timeline_entries

pytestmark = pytest.mark.django_db


def _entry(event, user):
    (entry,) = timeline_entries([event], user=user)
    return entry


def _text(entry) -> str:
    return " | ".join([entry.title, entry.who, *entry.lines])


def test_an_update_lists_each_field_by_label_before_and_after(asset_manager):
    north = BusinessUnitFactory(code="NORTH", name="North Area")
    south = BusinessUnitFactory(code="SOUTH", name="South Area")
    device = DeviceFactory(business_unit=north, location="Old desk")
    services.device_update(
        device=device,
        changes={"location": "New desk", "business_unit": south},
        actor=asset_manager,
        source="api",
    )
    event = device.events.get(kind=DeviceEvent.Kind.UPDATED)

    entry = _entry(event, asset_manager)

    assert entry.title == "Updated"
    assert "Location: Old desk → New desk" in entry.lines
    assert "Business unit: North Area → South Area" in entry.lines
    assert entry.who == f"{asset_manager.username}, through the API"
    assert entry.status_change is None  # in stock before and after: no "In stock → In stock"
    assert "{" not in _text(entry) and "changed" not in _text(entry).lower()


def test_an_import_row_says_which_import_and_row_in_words(asset_manager):
    device = DeviceFactory()
    event = DeviceEventFactory(
        device=device,
        kind=DeviceEvent.Kind.UPDATED,
        source="import:12",
        recorded_by=asset_manager,
        from_status="deployed",
        to_status="deployed",
        details={"row": 5, "changed": {"os_version": ["Windows 10", "Windows 11"]}},
    )

    entry = _entry(event, asset_manager)

    assert entry.title == "Updated by import #12 (row 5)"
    assert entry.lines == ["Operating system: Windows 10 → Windows 11"]
    assert entry.status_change is None
    text = _text(entry)
    assert "Row:" not in text and "Source:" not in text and "import:12" not in text


def test_a_seeded_repair_says_the_fault_and_age_in_words(asset_manager):
    event = DeviceEventFactory(
        kind=DeviceEvent.Kind.REPAIRED, source="seed", details={"fault": "Screen", "age_years": 2}
    )

    entry = _entry(event, asset_manager)

    assert entry.title == "Repaired"
    assert entry.lines == ["Fault: Screen", "The device was 2 years old."]
    assert entry.who == "the initial estate load"
    assert "Age years" not in _text(entry) and "seed" not in _text(entry)


def test_a_move_shows_before_and_after_status_and_the_holder(asset_manager):
    person = PersonFactory(staff_number="N0012345")
    device = DeviceFactory(business_unit=person.business_unit)
    services.device_deploy(device=device, person=person, actor=asset_manager, source="web")

    entry = _entry(device.events.get(kind=DeviceEvent.Kind.DEPLOYED), asset_manager)

    assert entry.status_change == ("In stock", "Deployed")
    assert entry.lines == ["Deployed to staff number N0012345"]
    assert entry.who == asset_manager.username


def test_a_reassignment_names_both_holders_and_no_status_change(asset_manager):
    first = PersonFactory(staff_number="N1")
    second = PersonFactory(staff_number="N2", business_unit=first.business_unit)
    device = DeviceFactory(
        business_unit=first.business_unit, status=Device.Status.DEPLOYED, assigned_to=first
    )
    services.device_deploy(device=device, person=second, actor=asset_manager)

    entry = _entry(device.events.get(kind=DeviceEvent.Kind.REASSIGNED), asset_manager)

    assert entry.status_change is None
    assert entry.lines == ["Handed from staff number N1 to staff number N2"]


def test_disposal_steps_read_as_words_without_internal_ids(asset_manager):
    event = DeviceEventFactory(
        kind=DeviceEvent.Kind.DISPOSAL,
        source="web",
        from_status="awaiting_sanitisation",
        to_status="sanitised",
        details={
            "step": "sanitisation",
            "result": "pass",
            "method": "crypto_erase",
            "operator": "Tech A",
            "verifier": "Tech B",
            "certificate_ref": "BL-1",
            "record_id": 991,
        },
    )

    entry = _entry(event, asset_manager)

    assert entry.title == "Sanitisation recorded"
    assert "Result: Pass" in entry.lines
    assert "Method: Cryptographic erase" in entry.lines
    assert "Carried out by Tech A, verified by Tech B" in entry.lines
    assert "991" not in _text(entry) and "crypto_erase" not in _text(entry)


def test_an_unknown_detail_is_still_words_not_a_dict(asset_manager):
    event = DeviceEventFactory(details={"ticket_system": {"id": "INC1", "queue": "EUS"}})

    entry = _entry(event, asset_manager)

    assert entry.lines == ["Ticket system: Id: INC1; Queue: EUS"]


def test_a_cost_only_update_is_redacted_for_non_commercial_readers_and_shown_to_finance(
    asset_manager, finance_officer
):
    device = DeviceFactory(purchase_cost=Decimal("642.31"))
    services.device_update(
        device=device, changes={"purchase_cost": Decimal("777.77")}, actor=asset_manager
    )
    event = device.events.get(kind=DeviceEvent.Kind.UPDATED)

    for_manager = _text(_entry(event, asset_manager))
    for_finance = _text(_entry(event, finance_officer))

    assert "777" not in for_manager and "642" not in for_manager
    assert "Commercial details changed" in for_manager
    assert "Purchase cost: £642.31 → £777.77" in for_finance


# --- field history ---------------------------------------------------------------


def test_a_created_device_starts_its_history_with_its_values_not_changes(asset_manager):
    device = DeviceFactory(location="Lambeth HQ", purchase_date=dt.date(2021, 5, 10))

    (row,) = history_rows(selectors.device_change_history(user=asset_manager, device=device))

    assert row["kind"] == "Created"
    assert "Location: Lambeth HQ" in row["lines"]
    assert "Purchase date: 10 May 2021" in row["lines"]
    assert not any("→" in line for line in row["lines"])


def test_a_device_whose_creation_was_not_recorded_starts_at_first_recorded(asset_manager):
    # Given a seeded device: bulk-loaded (no history signal), so its first history row
    # is written by its first change
    unit, model = BusinessUnitFactory(), DeviceModelFactory()
    Device.objects.bulk_create(
        [
            Device(
                serial_number="SEED-1",
                manufacturer=model.manufacturer,
                device_model=model,
                business_unit=unit,
                location="Lambeth HQ",
            )
        ]
    )
    device = Device.objects.get(serial_number="SEED-1")
    assert not device.history.exists()
    person = PersonFactory(business_unit=unit)
    services.device_deploy(device=device, person=person, actor=asset_manager)

    rows = history_rows(selectors.device_change_history(user=asset_manager, device=device))

    (row,) = rows
    assert row["kind"] == "First recorded"
    assert "Status: Deployed" in row["lines"]
    assert not any("(none) →" in line or "→" in line for line in row["lines"])


def test_a_change_reads_label_before_and_after(make_user, asset_manager):
    device = DeviceFactory(os_version="Windows 10 22H2")
    device.os_version = "Windows 11 23H2"
    device.save()

    latest = history_rows(selectors.device_change_history(user=asset_manager, device=device))[0]

    assert latest["kind"] == "Changed"
    assert latest["lines"] == ["Operating system: Windows 10 22H2 → Windows 11 23H2"]


def test_history_marks_rows_whose_commercial_changes_are_hidden(make_user):
    device = DeviceFactory(purchase_cost=Decimal("100.00"))
    device.purchase_cost = Decimal("777.31")
    device.save()
    viewer = make_user(Role.UNIT_VIEWER, units=[device.business_unit])
    finance = make_user(Role.FINANCE)

    for_viewer = history_rows(selectors.device_change_history(user=viewer, device=device))[0]
    for_finance = history_rows(selectors.device_change_history(user=finance, device=device))[0]

    assert for_viewer["lines"] == [] and for_viewer["redacted"]
    assert for_finance["lines"] == ["Purchase cost: £100.00 → £777.31"]
    assert not for_finance["redacted"]
