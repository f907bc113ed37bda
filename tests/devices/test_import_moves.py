"""An import row (or bulk item) that moves a device to another status goes through the
one status mover, ``devices.services.devices_status_move``: the same event, field
history and AT check as ``device_transition`` writes for the same move."""

from __future__ import annotations

import pytest

from core.errors import DomainError
from devices import services
from devices.importing import moves, upsert
from devices.importing.services import devices_upsert_rows
from devices.models import ATCheck, Device, DeviceEvent
from tests.devices.import_files import device_row
from tests.factories import (
    BusinessUnitFactory,
    DeviceFactory,
    DeviceModelFactory,
    ManufacturerFactory,
    PersonFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def unit():
    return BusinessUnitFactory(code="CE")


@pytest.fixture
def laptop():
    return DeviceModelFactory(
        manufacturer=ManufacturerFactory(name="Dell"), name="Latitude 5440", category="laptop"
    )


def _device(unit, laptop, serial, **fields):
    return DeviceFactory(
        serial_number=serial,
        manufacturer=laptop.manufacturer,
        device_model=laptop,
        business_unit=unit,
        location="Lambeth HQ",
        purchase_date="2024-01-13",
        warranty_expires="2027-01-13",
        purchase_cost="1234.56",
        os_version="Windows 11",
        **fields,
    )


def _row(serial, **values):
    """A row that changes nothing but what it is given (blank cells leave values)."""
    blank = dict.fromkeys(
        ("purchase_date", "warranty_expires", "purchase_cost", "location", "os_version"), ""
    )
    return device_row(serial_number=serial, **{**blank, **values})


def _event(device):
    event = DeviceEvent.objects.filter(device=device).latest("id")
    return {
        "kind": event.kind,
        "from": event.from_status,
        "to": event.to_status,
        "source": event.source,
        "by": event.recorded_by_id,
        "details": event.details,
    }


def _history(device):
    latest = device.history.latest("history_id")
    return {
        "type": latest.history_type,
        "status": latest.status,
        "holder": latest.assigned_to_id is not None,
        "reason": latest.history_change_reason,
        "user": latest.history_user_id,
    }


@pytest.mark.parametrize(
    ("start", "to_status"),
    [("deployed", "returned"), ("deployed", "in_repair"), ("in_stock", "lost_stolen")],
)
def test_an_import_move_writes_what_device_transition_writes(
    unit, laptop, asset_manager, start, to_status
):
    # Given two devices alike, one moved by an import row and one by device_transition
    holder = PersonFactory(business_unit=unit) if start == "deployed" else None
    imported = _device(unit, laptop, "SN-IMPORT", status=start, assigned_to=holder)
    other_holder = PersonFactory(business_unit=unit) if start == "deployed" else None
    moved = _device(unit, laptop, "SN-SERVICE", status=start, assigned_to=other_holder)
    history_before = Device.history.count()

    outcome = devices_upsert_rows(
        rows=[_row("SN-IMPORT", status=to_status)], actor=asset_manager, source="import:7"
    )
    services.device_transition(
        device=moved,
        to_status=to_status,
        actor=asset_manager,
        source="import:7",
        details={"row": 0},
    )

    # Then both carry the same event and the same field-history row
    assert outcome.counts == {"created": 0, "updated": 1, "unchanged": 0, "rejected": 0}
    imported.refresh_from_db()
    moved.refresh_from_db()
    expected_event = _event(moved)
    got_event = _event(imported)
    if "assigned_to" in expected_event["details"]:
        # The holder's staff number differs (two people); the key is there in both.
        assert got_event["details"]["assigned_to"] == holder.staff_number
        got_event["details"]["assigned_to"] = expected_event["details"]["assigned_to"]
    assert got_event == expected_event
    assert got_event["kind"] == services.EVENT_FOR_STATUS[to_status]
    assert _history(imported) == _history(moved)
    assert Device.history.count() == history_before + 2
    assert DeviceEvent.objects.filter(device=imported).count() == 1
    assert (imported.status, imported.version) == (to_status, 2)


def test_a_deployment_by_import_gives_each_device_its_holder_and_one_at_check(
    unit, laptop, asset_manager
):
    needs = PersonFactory(business_unit=unit, staff_number="AT1", at_needs=True)
    plain = PersonFactory(business_unit=unit, staff_number="P1")
    first = _device(unit, laptop, "SN-1", status="in_stock")
    second = _device(unit, laptop, "SN-2", status="in_stock")

    outcome = devices_upsert_rows(
        rows=[
            _row("SN-1", status="deployed", assigned_to="AT1"),
            _row("SN-2", status="deployed", assigned_to="P1"),
        ],
        actor=asset_manager,
        source="api",
    )

    assert outcome.rejected == 0
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.assigned_to, second.assigned_to) == ("deployed", needs, plain)
    assert [(e["kind"], e["details"]) for e in (_event(first), _event(second))] == [
        ("deployed", {"assigned_to": "AT1", "row": 0}),
        ("deployed", {"assigned_to": "P1", "row": 1}),
    ]
    # The mover opens the AT check; the import does not open a second.
    assert list(ATCheck.objects.values_list("device_id", "person_id")) == [(first.pk, needs.pk)]


def test_a_row_that_moves_and_edits_gets_the_move_and_an_update_for_the_rest(
    unit, laptop, asset_manager
):
    device = _device(unit, laptop, "SN-1", status="deployed", assigned_to=PersonFactory())

    devices_upsert_rows(
        rows=[_row("SN-1", status="returned", location="Stores")],
        actor=asset_manager,
        source="api",
    )

    device.refresh_from_db()
    assert (device.status, device.location, device.version) == ("returned", "Stores", 2)
    events = list(DeviceEvent.objects.filter(device=device).order_by("id"))
    assert [e.kind for e in events] == ["returned", "updated"]
    assert events[1].details == {"row": 0, "changed": {"location": ["Lambeth HQ", "Stores"]}}
    assert (events[1].from_status, events[1].to_status) == ("returned", "returned")


def test_a_device_changed_between_validation_and_the_move_is_reported_not_moved(
    unit, laptop, asset_manager, monkeypatch
):
    device = _device(unit, laptop, "SN-1", status="in_stock")
    real = moves.write_moves

    def racing(rows, **kwargs):
        Device.objects.filter(pk=device.pk).update(version=9, location="Someone else")
        return real(rows, **kwargs)

    monkeypatch.setattr(upsert, "write_moves", racing)
    outcome = devices_upsert_rows(
        rows=[_row("SN-1", status="lost_stolen")], actor=asset_manager, source="api"
    )

    assert "changed by someone else" in outcome.results[0].errors["serial_number"][0]
    device.refresh_from_db()
    assert (device.status, device.location) == ("in_stock", "Someone else")
    assert not DeviceEvent.objects.filter(device=device).exists()


def test_the_mover_refuses_holders_for_a_move_out_of_use(unit, laptop):
    device = _device(unit, laptop, "SN-1", status="in_stock")
    with pytest.raises(DomainError) as refused:
        services.devices_status_move(
            moves=[(device.pk, "in_stock")],
            to_status="returned",
            kind="returned",
            actor=None,
            source="t",
            holders={device.pk: PersonFactory().pk},
        )
    assert refused.value.field == "assigned_to"


def test_the_mover_refuses_a_deployment_whose_holder_is_none(unit, laptop):
    device = _device(unit, laptop, "SN-1", status="in_stock")
    with pytest.raises(DomainError) as refused:
        services.devices_status_move(
            moves=[(device.pk, "in_stock")],
            to_status="deployed",
            kind="deployed",
            actor=None,
            source="t",
            holders={device.pk: None},
        )
    assert "must be assigned" in refused.value.message
    device.refresh_from_db()
    assert device.status == "in_stock"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_pipelined_file_import_moves_through_the_mover_too(tmp_path, monkeypatch):
    # The PostgreSQL valid-rows file import writes batches on writer threads (COPY);
    # its status moves go through the mover on the main connection instead.
    from accounts.roles import Role
    from devices.importing import services as import_services
    from tests.devices.import_files import text_file
    from tests.factories import UserFactory

    unit = BusinessUnitFactory(code="CE")
    laptop = DeviceModelFactory(
        manufacturer=ManufacturerFactory(name="Dell"), name="Latitude 5440", category="laptop"
    )
    holder = PersonFactory(business_unit=unit, staff_number="P1")
    deployed = _device(unit, laptop, "SN-1", status="deployed", assigned_to=holder)
    stock = _device(unit, laptop, "SN-2", status="in_stock")
    actor = UserFactory(role=Role.ASSET_MANAGER)
    monkeypatch.setattr(import_services, "EDGE_BATCH_SIZE", 1)
    monkeypatch.setattr(import_services, "BATCH_SIZE", 1)
    rows = [
        _row("SN-NEW"),
        _row("SN-1", status="returned", location="Stores"),
        _row("SN-2", status="deployed", assigned_to="P1"),
        _row("SN-NEW-2"),
    ]
    path = text_file(tmp_path / "moves.csv", rows)
    run = import_services.import_run_create(file_name="moves.csv", path=path, actor=actor)

    run = import_services.import_run_execute(run=run, path=path)

    assert (run.created_count, run.updated_count, run.rejected_count) == (2, 2, 0)
    deployed.refresh_from_db()
    stock.refresh_from_db()
    assert (deployed.status, deployed.assigned_to, deployed.location) == (
        "returned",
        None,
        "Stores",
    )
    assert (stock.status, stock.assigned_to) == ("deployed", holder)
    kinds = {
        device.serial_number: list(
            DeviceEvent.objects.filter(device=device).order_by("id").values_list("kind", flat=True)
        )
        for device in (deployed, stock)
    }
    assert kinds == {"SN-1": ["returned", "updated"], "SN-2": ["deployed"]}
    assert deployed.history.latest("history_id").history_change_reason == run.source
    assert stock.history.latest("history_id").status == "deployed"
