"""``devices.signals.estate_changed`` names the devices an import or a bulk upsert
created or updated (``device_ids``), so the eligibility recompute covers only them;
past DEVICE_IDS_LIMIT it says "the whole estate" (None)."""

from __future__ import annotations

import pytest

from devices import signals
from devices.importing import services
from devices.models import Device
from devices.signals import estate_changed
from tests.devices.import_files import device_row, text_file
from tests.factories import BusinessUnitFactory, DeviceFactory, DeviceModelFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard():
    calls = []

    def receiver(**kwargs):
        calls.append(kwargs)

    estate_changed.connect(receiver)
    yield calls
    estate_changed.disconnect(receiver)


@pytest.fixture
def estate():
    """Unit CE with SN-0 (to be updated) and SN-1 (to stay unchanged)."""
    unit = BusinessUnitFactory(code="CE")
    model = DeviceModelFactory(name="Latitude 5440", category="laptop")
    model.manufacturer.name = "Dell"
    model.manufacturer.save()
    kept = {}
    for serial in ("SN-0", "SN-1"):
        kept[serial] = DeviceFactory(
            serial_number=serial,
            manufacturer=model.manufacturer,
            device_model=model,
            business_unit=unit,
            location="Lambeth HQ",
        )
    return kept


def _rows():
    blank = dict.fromkeys(
        ("purchase_date", "warranty_expires", "purchase_cost", "os_version", "status"), ""
    )
    return [
        device_row(serial_number="SN-0", **{**blank, "location": "Hendon"}),  # updated
        device_row(serial_number="SN-1", **{**blank, "location": "Lambeth HQ"}),  # unchanged
        device_row(serial_number="NEW-1"),  # created
        device_row(serial_number="NEW-2"),  # created
    ]


def _changed_ids(estate):
    return sorted(
        [estate["SN-0"].pk, *Device.objects.filter(serial_number__startswith="NEW").values_list(
            "pk", flat=True
        )]
    )  # fmt: skip


def test_an_import_names_the_devices_it_created_or_updated(
    estate, heard, tmp_path, asset_manager, django_capture_on_commit_callbacks
):
    path = text_file(tmp_path / "e.csv", _rows())
    run = services.import_run_create(file_name="e.csv", path=path, actor=asset_manager)

    with django_capture_on_commit_callbacks(execute=True):
        run = services.import_run_execute(run=run, path=path)

    assert (run.created_count, run.updated_count, run.unchanged_count) == (2, 1, 1)
    assert heard == [
        {
            "signal": estate_changed,
            "sender": "devices",
            "trigger": "import",
            "actor_id": asset_manager.pk,
            "device_ids": _changed_ids(estate),
        }
    ]


def test_a_bulk_upsert_names_the_devices_it_created_or_updated(
    estate, heard, asset_manager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.devices_upsert_rows(rows=_rows(), actor=asset_manager, source="api")

    [call] = heard
    assert (call["trigger"], call["device_ids"]) == ("api", _changed_ids(estate))


def test_past_the_limit_the_signal_says_the_whole_estate(
    estate, heard, tmp_path, asset_manager, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(signals, "DEVICE_IDS_LIMIT", 2)
    monkeypatch.setattr(services, "BATCH_SIZE", 1)  # collected across batches too
    path = text_file(tmp_path / "e.csv", _rows())
    run = services.import_run_create(file_name="e.csv", path=path, actor=asset_manager)

    with django_capture_on_commit_callbacks(execute=True):
        services.import_run_execute(run=run, path=path)

    [call] = heard
    assert call["device_ids"] is None


def test_an_import_that_changed_nothing_says_nothing(
    estate, heard, asset_manager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.devices_upsert_rows(rows=_rows()[1:2], actor=asset_manager, source="api")
    assert heard == []


def test_a_receiver_that_does_not_know_device_ids_still_works(
    estate, asset_manager, django_capture_on_commit_callbacks
):
    seen = []

    def old_style(*, trigger, actor_id, **_kwargs):
        seen.append((trigger, actor_id))

    estate_changed.connect(old_style)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            services.devices_upsert_rows(rows=_rows(), actor=asset_manager, source="api")
    finally:
        estate_changed.disconnect(old_style)
    assert seen == [("api", asset_manager.pk)]
