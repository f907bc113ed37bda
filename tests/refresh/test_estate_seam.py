"""The seam between the estate and refresh: an import or a bulk upsert that changes
devices leads, through ``devices.signals.estate_changed``, to a real eligibility
recompute. Real importer, real signal, real task (eager in tests), real policies."""

import datetime as dt

import pytest
from rest_framework.test import APIClient

from devices.importing import services as import_services
from devices.models import Device
from refresh.models import DeviceEligibility, EligibilityRun
from tests.devices.import_files import device_row, text_file
from tests.factories import BusinessUnitFactory

pytestmark = pytest.mark.django_db


def test_an_import_that_creates_devices_recomputes_their_eligibility(
    policies, asset_manager, tmp_path, django_capture_on_commit_callbacks
):
    BusinessUnitFactory(code="CE")
    # A laptop bought in 2019 is past its 48-month lifecycle today.
    path = text_file(tmp_path / "d.csv", [device_row(purchase_date="2019-01-10")])
    run = import_services.import_run_create(file_name="d.csv", path=path, actor=asset_manager)

    with django_capture_on_commit_callbacks(execute=True):
        import_services.import_run_execute(run=run, path=path)

    device = Device.objects.get(serial_number="SN-0001")
    eligibility = DeviceEligibility.objects.get(device=device)
    assert eligibility.is_due is True
    recompute = EligibilityRun.objects.get()
    assert (recompute.trigger, recompute.requested_by) == (
        EligibilityRun.Trigger.IMPORT,
        asset_manager,
    )


def test_a_bulk_upsert_that_creates_devices_recomputes_their_eligibility(
    policies, asset_manager, django_capture_on_commit_callbacks
):
    BusinessUnitFactory(code="CE")
    client = APIClient()
    client.force_authenticate(asset_manager)
    item = device_row(serial_number="SN-API-1", purchase_date=dt.date(2019, 1, 10).isoformat())

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/devices/bulk/", [item], format="json")

    assert response.status_code == 200, response.content
    device = Device.objects.get(serial_number="SN-API-1")
    assert DeviceEligibility.objects.get(device=device).is_due is True
    assert EligibilityRun.objects.get().trigger == EligibilityRun.Trigger.API


def test_a_dry_run_recomputes_nothing(
    policies, asset_manager, tmp_path, django_capture_on_commit_callbacks
):
    BusinessUnitFactory(code="CE")
    path = text_file(tmp_path / "d.csv", [device_row(purchase_date="2019-01-10")])
    run = import_services.import_run_create(
        file_name="d.csv", path=path, actor=asset_manager, dry_run=True
    )
    with django_capture_on_commit_callbacks(execute=True):
        import_services.import_run_execute(run=run, path=path)
    assert not EligibilityRun.objects.exists()
