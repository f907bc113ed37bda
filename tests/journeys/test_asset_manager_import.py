"""Journey: an asset manager imports a small CSV with one bad row (valid-rows mode),
watches its progress, reads the summary (how long it took in seconds, which fields
changed) and reads the error report naming the row, the field and the reason."""

from __future__ import annotations

import csv
import io
import re

import pytest
from playwright.sync_api import expect

from accounts.services import user_create
from devices.importing import runs
from devices.models import Device, ImportRun
from devices.tasks import import_estate_task
from tests.browser_support import PASSWORD, check_page, sign_in
from tests.devices.import_files import device_row, text_file
from tests.factories import BusinessUnitFactory, DeviceFactory, DeviceModelFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def estate(transactional_db):
    """Unit CE with one device already known (SN-KNOWN, at Lambeth HQ)."""
    unit = BusinessUnitFactory(code="CE")
    model = DeviceModelFactory(name="Latitude 5440", category="laptop")
    model.manufacturer.name = "Dell"
    model.manufacturer.save()
    DeviceFactory(
        serial_number="SN-KNOWN",
        manufacturer=model.manufacturer,
        device_model=model,
        business_unit=unit,
        location="Lambeth HQ",
        purchase_date="2024-01-13",
        warranty_expires="2027-01-13",
        purchase_cost="1234.56",
        os_version="Windows 11",
        status="in_stock",
    )
    return user_create(username="asset.manager", role="asset-manager", password=PASSWORD)


@pytest.fixture
def held_queue(monkeypatch):
    """The upload is recorded and queued but no worker takes it until the test says
    so, so the journey sees the run's page while it waits and then as it runs."""
    monkeypatch.setattr(runs, "import_run_enqueue", lambda *, run: None)


def test_asset_manager_imports_a_file_with_a_bad_row_and_reads_the_error_report(
    page, live_server, estate, held_queue, tmp_path
):
    # Given a file: one new device, one change to a known device, one bad date
    path = text_file(
        tmp_path / "estate.csv",
        [
            device_row(serial_number="SN-NEW"),
            device_row(serial_number="SN-KNOWN", location="Hendon", purchase_cost="1,234.56"),
            device_row(serial_number="SN-BAD", purchase_date="01/13/2024"),
        ],
    )
    sign_in(page, live_server, "asset.manager")

    # When the asset manager uploads it, keeping the valid rows
    page.goto(f"{live_server.url}/devices/import/")
    expect(page.locator("#id_file-hint")).to_contain_text("rows")  # the limits, stated
    check_page(page, "import-upload")
    page.set_input_files("#id_file", str(path))
    page.get_by_label("Import the valid rows and report the rest").check()
    page.get_by_role("button", name="Import").click()

    # Then the run's page shows its progress while it waits for a worker
    progress = page.locator("[data-test=import-progress]")
    expect(progress).to_be_visible()
    expect(page.locator("[data-test=import-percent]")).to_contain_text("%")
    run = ImportRun.objects.get()

    # And, once a worker has run it, the same page turns into the summary by itself
    import_estate_task(run.pk)
    summary = page.locator("[data-test=import-summary]")
    expect(summary).to_be_visible()
    expect(page.locator("[data-count=created]")).to_have_text("1")
    expect(page.locator("[data-count=updated]")).to_have_text("1")
    expect(page.locator("[data-count=rejected]")).to_have_text("1")
    expect(page.locator("[data-test=import-took]")).to_have_text(re.compile(r"^\d+\.\d seconds?$"))
    expect(page.locator("[data-test=import-field-changes] [data-field=location]")).to_have_text(
        "1 row"
    )
    errors = page.locator("[data-test=import-errors]")
    expect(errors).to_contain_text("purchase_date")
    expect(errors).to_contain_text("US month/day/year")
    check_page(page, "import-summary")

    # And the error report names the row, the field and the reason
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the full error report (CSV)").click()
    text = download.value.path().read_text(encoding="utf-8-sig")
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[0] == ["Classification: OFFICIAL"]
    assert lines[1] == ["row", "column", "value", "reason"]
    [bad] = lines[2:]
    assert bad[:3] == ["4", "purchase_date", "01/13/2024"]
    assert "US month/day/year" in bad[3]

    # And the good rows landed
    assert set(Device.objects.values_list("serial_number", "location")) == {
        ("SN-NEW", "Lambeth HQ"),
        ("SN-KNOWN", "Hendon"),
    }
