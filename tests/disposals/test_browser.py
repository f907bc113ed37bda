"""In a browser: every disposal page passes ``check_page`` (axe finds nothing, the page
fits a 390 px phone) for the roles that use it, with real content in it: a board
queue of each step, consignments at each stage, the custody record, the summary,
the residual-value rule and the sign-offs. (The asset manager's whole journey is
tests/journeys/test_asset_manager_disposal.py.) Skipped without /usr/bin/chromium."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.services import user_create
from disposals import services
from disposals.models import Partner, ResidualValueRule, Route
from tests.browser_support import PASSWORD, check_page, sign_in
from tests.disposals.conftest import wipe
from tests.disposals.files import pdf_bytes
from tests.factories import BusinessUnitFactory, DeviceFactory, DeviceModelFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def estate(transactional_db):
    today = timezone.localdate()
    unit = BusinessUnitFactory(code="NE", name="North East Command Unit with a long name")
    model = DeviceModelFactory(name="Latitude 7440 Rugged Extreme", unit_price=Decimal("1000"))
    ResidualValueRule.objects.create(name="Rule", effective_from=dt.date(2000, 1, 1))
    manager = user_create(username="manager", role="asset-manager", password=PASSWORD)
    user_create(username="finance", role="finance", password=PASSWORD)
    devices = [
        DeviceFactory(
            business_unit=unit,
            device_model=model,
            status="returned",
            purchase_date=today - dt.timedelta(days=700),
            serial_number=f"5CG{n:04d}VERYLONGSERIALNUMBER{n}",
        )
        for n in range(8)
    ]
    cases = services.disposal_cases_open(device_ids=[d.pk for d in devices], actor=manager)
    services.sanitisation_records_record(items=[wipe(d) for d in devices[1:]], actor=manager)
    ids = [c.pk for c in cases]
    services.assessments_record(case_ids=ids[2:], grade="scrap", actor=manager)
    services.routes_decide(case_ids=ids[3:], actor=manager)
    partner = Partner.objects.create(
        name="GreenCycle WEEE Services Ltd", kind="weee_recycler", licence_number="EPR/GB1234XY"
    )
    shipped = services.consignment_create(route=Route.RECYCLING, partner=partner, actor=manager)
    services.consignment_add_cases(consignment=shipped, case_ids=ids[4:6], actor=manager)
    services.consignment_dispatch(
        consignment=shipped,
        dispatch_date=today,
        collected_by="GreenCycle van 12",
        transfer_note_ref="WTN-2026-00412",
        actor=manager,
    )
    waiting = services.consignment_create(route=Route.RECYCLING, partner=partner, actor=manager)
    services.consignment_add_cases(consignment=waiting, case_ids=ids[6:], actor=manager)
    return {"devices": devices, "shipped": shipped, "waiting": waiting}


def test_every_disposal_page_passes_axe_and_fits_a_phone(page, browser, live_server, estate):
    url = live_server.url
    sign_in(page, live_server, "manager")
    for queue in ("returned", "awaiting_sanitisation", "sanitised", "value_assessed",
                  "route_chosen", "in_consignment"):  # fmt: skip
        page.goto(f"{url}/disposals/?queue={queue}")
        check_page(page)
    for path in (
        "/disposals/consignments/",
        "/disposals/consignments/new/",
        f"/disposals/consignments/{estate['waiting'].pk}/",
        f"/disposals/consignments/{estate['shipped'].pk}/",
        f"/disposals/devices/{estate['devices'][5].pk}/custody/",
        "/disposals/summary/",
    ):
        page.goto(url + path)
        check_page(page)

    # A refused dispatch: the GOV.UK date input and the error summary, on a phone too.
    page.goto(f"{url}/disposals/consignments/{estate['waiting'].pk}/")
    page.get_by_role("button", name="Record dispatch").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter dispatch date")
    check_page(page)
    page.get_by_label("Day").fill("31")
    page.get_by_label("Month").fill("2")
    page.get_by_label("Year").fill(str(timezone.localdate().year))
    page.get_by_label("Collected by").fill("GreenCycle van 7")
    page.get_by_label("Waste transfer note or equivalent reference").fill("WTN-9")
    page.get_by_role("button", name="Record dispatch").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("must be a real date")

    # The partner's certificate: a page that is not a PDF is refused, a real one stored.
    page.goto(f"{url}/disposals/consignments/{estate['shipped'].pk}/")
    expect(page.get_by_text("A PDF, PNG or JPEG file, up to 10 MB")).to_be_visible()
    page.get_by_label("Partner's certificate").set_input_files(
        files=[{"name": "cert.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 <html>"}]
    )
    page.get_by_role("button", name="Upload certificate").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("not a readable PDF")
    check_page(page)
    page.get_by_label("Partner's certificate").set_input_files(
        files=[{"name": "cert.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes()}]
    )
    page.get_by_role("button", name="Upload certificate").click()
    expect(page.get_by_text("Stored the partner's certificate.")).to_be_visible()

    finance = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    try:
        officer = finance.new_page()
        sign_in(officer, live_server, "finance")
        for path in ("/disposals/summary/", "/disposals/value-rule/", "/disposals/sign-offs/",
                     "/disposals/consignments/",
                     f"/disposals/devices/{estate['devices'][5].pk}/custody/"):  # fmt: skip
            officer.goto(url + path)
            check_page(officer)
    finally:
        finance.close()
