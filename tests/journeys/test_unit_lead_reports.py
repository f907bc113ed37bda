"""Journey: a business-unit lead reads and downloads their unit's stewardship report
(issue 14, "Business-unit lead"), in a real browser.

The lead of NORTH signs in, goes to Reports, opens NORTH's report for last month:
the page opens with the headline figures and the trend and ends with "About this
run". They download it as PDF, CSV and XLSX, each checked for its file type and its
classification marking, and a guessed URL of SOUTH's report is a 404. Every page
visited passes ``check_page`` (axe, fits a 390 px screen; the report page is kept as
a screenshot, "report").
"""

from __future__ import annotations

import io
import zipfile

import openpyxl
import pytest
from django.urls import reverse
from playwright.sync_api import expect
from pypdf import PdfReader

from accounts.services import user_create
from core.exports import OFFICIAL
from devices.models import Category, Device
from reports import selectors, services
from reports.models import ReportRun
from tests.browser_support import PASSWORD, check_page, sign_in
from tests.factories import BusinessUnitFactory, DeviceFactory, DeviceModelFactory, PersonFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

D = Device.Status


@pytest.fixture
def reports(transactional_db):
    """NORTH (with a sub-unit) and SOUTH, a few devices each, and last month's report
    for every unit, generated the way the 1st-of-month beat does."""
    root = BusinessUnitFactory(code="MET", name="Metropolitan", level="directorate")
    north = BusinessUnitFactory(code="NORTH", name="North Area", parent=root, level="command")
    north_east = BusinessUnitFactory(code="NORTHEAST", name="North East", parent=north)
    south = BusinessUnitFactory(code="SOUTH", name="South Area", parent=root, level="command")
    laptop = DeviceModelFactory(name="Latitude 5440", category=Category.LAPTOP)
    phone = DeviceModelFactory(name="Galaxy XCover", category=Category.SMARTPHONE)
    officer = PersonFactory(staff_number="N0012345", business_unit=north)
    DeviceFactory(business_unit=north, device_model=laptop, status=D.DEPLOYED, assigned_to=officer)
    DeviceFactory.create_batch(3, business_unit=north, device_model=laptop)
    DeviceFactory.create_batch(2, business_unit=north_east, device_model=phone)
    DeviceFactory.create_batch(4, business_unit=south, device_model=laptop)
    last_month = selectors.previous_month(selectors.london_today())[0]
    services.stewardship_reports_generate_now(period_start=last_month, notify=False)
    runs = {
        run.business_unit.code: run for run in ReportRun.objects.select_related("business_unit")
    }
    user_create(username="north.lead", role="unit-viewer", password=PASSWORD, unit_codes=["NORTH"])
    return {"north": runs["NORTH"], "south": runs["SOUTH"], "month": last_month}


def download(page, link_name: str) -> tuple[str, bytes]:
    with page.expect_download() as info:
        page.get_by_role("link", name=link_name).click()
    handle = info.value
    with open(handle.path(), "rb") as stream:
        return handle.suggested_filename, stream.read()


def test_unit_lead_downloads_their_units_report_in_three_formats_and_not_another_units(
    page, live_server, reports
):
    north, south, month = reports["north"], reports["south"], reports["month"]

    # The lead signs in and finds their unit's report for last month
    sign_in(page, live_server, "north.lead")
    page.goto(f"{live_server.url}{reverse('reports:report_list')}")
    check_page(page)
    runs = page.locator("table tbody tr")
    expect(runs).to_have_count(2)  # NORTH and its sub-unit; never SOUTH
    expect(page.locator("table")).not_to_contain_text("SOUTH")
    page.get_by_role("link", name="NORTH North Area").click()
    page.wait_for_load_state("networkidle")

    # The report page opens with the figures and the trend, and ends with the run
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text("NORTH North Area")
    expect(page.get_by_text(f"Figures as at 23:59 on {north.period_end:%-d %B %Y}")).to_be_visible()
    headings = page.get_by_role("heading", level=2).all_inner_texts()
    assert headings.index("Headline figures and trend") < headings.index("About this run")
    trend = page.locator("[data-test=trend]")
    held = trend.locator("tr", has=page.get_by_role("rowheader", name="Devices held", exact=True))
    expect(held).to_contain_text("6")
    check_page(page, "report")

    # PDF, CSV and XLSX: each the right type, each carrying the marking
    name, pdf = download(page, "Download PDF")
    assert name.endswith(f"{month:%Y-%m}-r{north.pk}a1.pdf") and pdf.startswith(b"%PDF-")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert OFFICIAL in text and "North Area (NORTH)" in text

    name, csv = download(page, "Download CSV")
    assert name.endswith(".csv")
    lines = csv.decode("utf-8-sig").splitlines()
    assert lines[0] == f"Classification: {OFFICIAL}"
    assert len(lines) == 3 + 6  # marking, period, header, then NORTH's six devices

    name, xlsx = download(page, "Download XLSX")
    assert name.endswith(".xlsx") and zipfile.is_zipfile(io.BytesIO(xlsx))
    book = openpyxl.load_workbook(io.BytesIO(xlsx))
    assert book["Summary"]["A1"].value == OFFICIAL
    assert book["Devices"]["A1"].value == OFFICIAL

    # Another unit's report, its URL guessed: not found
    for url in (
        reverse("reports:report_detail", args=[south.pk]),
        reverse("reports:report_download", args=[south.pk, "pdf"]),
    ):
        response = page.goto(f"{live_server.url}{url}")
        assert response.status == 404
