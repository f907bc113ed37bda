"""Journey: two finance officers raise and approve a purchase order (issue 14, "finance
and commercial"), in a real browser.

One finance officer raises an order (typing the price as "£1,000") and submits it; the
order page tells them another officer must approve it. A second finance officer opens
it, sees what approving leaves in the budget line, and approves it. A further order,
which would overspend the line, is refused with the reason in the GOV.UK error summary.
The envelope page shows the line's headroom and signal, and its XLSX export downloads,
marked. Every page visited passes ``check_page`` (axe, fits a 390 px screen); the
envelope, the order page and the contracts page are kept as screenshots.

The journey runs on the real clock: its budget line is the current financial year's,
and its contract runs either side of today.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import openpyxl
import pytest
from playwright.sync_api import expect

from accounts.services import user_create
from core.exports import OFFICIAL_SENSITIVE_COMMERCIAL
from core.financial_year import financial_year
from procurement import services
from procurement.models import Contract, ProcurementThreshold, PurchaseOrder, Supplier
from tests.browser_support import PASSWORD, check_page, sign_in
from tests.factories import BusinessUnitFactory, DeviceModelFactory, ManufacturerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LINE_BUDGET = Decimal("200000.00")


@pytest.fixture
def world(transactional_db):
    today = services.london_today()
    year = financial_year(today).label
    officer = user_create(username="finance.officer", role="finance", password=PASSWORD)
    user_create(username="finance.approver", role="finance", password=PASSWORD)
    commercial = user_create(username="commercial.officer", role="commercial", password=None)
    envelope = services.capital_envelope_create(
        name="EUS device demand",
        total=Decimal("46763000.00"),
        decision_reference="DMPC-2025-001",
        owner=officer,
    )
    line = services.budget_line_create(
        envelope=envelope, financial_year=year, category="laptop", amount=LINE_BUDGET
    )
    for kind, amount in (
        (ProcurementThreshold.Kind.REGULATIONS, "213477.00"),
        (ProcurementThreshold.Kind.DEPUTY_MAYOR, "500000.00"),
    ):
        services.threshold_create(
            kind=kind, amount=Decimal(amount), effective_from=dt.date(2024, 1, 1)
        )
    services.approval_authorities_default_ensure(effective_from=dt.date(2024, 1, 1))
    supplier = Supplier.objects.create(name="Albion Technology Services Ltd")
    contract = services.contract_create(
        envelope=envelope,
        supplier=supplier,
        reference="TEPAS2-CO-0147",
        title="Laptops and desktops call-off",
        route=Contract.Route.CALL_OFF,
        framework_name="CCS Technology Products & Associated Services 2",
        framework_reference="RM6098",
        ordering_process_followed=True,
        framework_ceiling=Decimal("300000000.00"),
        framework_end_date=today + dt.timedelta(days=700),
        value_ceiling=Decimal("20000000.00"),
        start_date=today - dt.timedelta(days=60),
        end_date=today + dt.timedelta(days=400),
    )
    services.contract_award_record(
        contract=contract,
        compliant_route="Call-off under RM6098 following its ordering process",
        dsp_consent_reference="DSP-0147",
        dsp_consent_on=today - dt.timedelta(days=70),
        awarded_on=today - dt.timedelta(days=60),
        dmpc_notified_on=today - dt.timedelta(days=90),
        dmpc_called_in=False,
        recorded_by=commercial,
    )
    unit = BusinessUnitFactory(code="CE", name="Central East BCU")
    model = DeviceModelFactory(
        manufacturer=ManufacturerFactory(name="Dell"), name="Latitude 5450", category="laptop"
    )
    # Already waiting for approval: £120,000, which will not fit once the first is in.
    waiting = services.purchase_order_create(
        budget_line=line,
        supplier=supplier,
        contract=contract,
        business_unit=unit,
        raised_by=officer,
        description="Refresh wave 2 laptops",
        lines=[
            {
                "device_model": model,
                "quantity": 100,
                "unit_price": Decimal("1000.00"),
                "vat_rate": Decimal("0.2"),
            }
        ],
    )
    services.purchase_order_submit(purchase_order=waiting, actor=officer)
    return {"line": line, "year": year, "unit": unit, "model": model, "waiting": waiting}


def sign_out(page):
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state("networkidle")


def test_one_officer_raises_another_approves_an_overspend_is_refused_and_the_xlsx_downloads(
    page, live_server, world
):
    line, year = world["line"], world["year"]

    # A finance officer raises an order, typing the price as people write it
    sign_in(page, live_server, "finance.officer")
    page.goto(f"{live_server.url}/procurement/orders/new/")
    check_page(page)
    page.select_option("#id_budget_line", str(line.pk))
    page.select_option("#id_supplier", label="Albion Technology Services Ltd")
    page.select_option("#id_contract", label="TEPAS2-CO-0147 Laptops and desktops call-off")
    page.select_option("#id_business_unit", str(world["unit"].pk))
    page.fill("#id_description", "Refresh wave 1 laptops")
    page.select_option("#id_lines-0-device_model", str(world["model"].pk))
    page.fill("#id_lines-0-quantity", "100")
    page.fill("#id_lines-0-unit_price", "£1,000")
    page.get_by_role("button", name="Raise draft order").click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text("raised")
    order = PurchaseOrder.objects.exclude(pk=world["waiting"].pk).get()
    assert order.gross_total == Decimal("120000.00")

    # ...and submits it; the page says someone else must approve it
    page.get_by_role("button", name="Submit for approval").click()
    expect(page.locator('[data-test="approve-not-yours"]')).to_have_text(
        "You raised this order; another finance officer must approve it."
    )
    expect(page.locator('[data-test="approve-panel"]')).to_have_count(0)
    sign_out(page)

    # A second finance officer opens it and sees what approving leaves in the line
    sign_in(page, live_server, "finance.approver")
    page.goto(f"{live_server.url}/procurement/orders/{order.pk}/")
    expect(page.locator('[data-test="uncommitted-after"]')).to_contain_text("£80,000.00")
    expect(page.locator('[data-test="vat-rate"]')).to_have_text("20%")
    check_page(page, "purchase-order")
    page.get_by_label("I approve this order within my delegated authority").check()
    page.get_by_role("button", name="Approve and commit").click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text(
        "approved and committed"
    )
    order.refresh_from_db()
    assert order.status == PurchaseOrder.Status.APPROVED

    # The order already waiting would overspend the line: refused, in the error summary
    waiting = world["waiting"]
    page.goto(f"{live_server.url}/procurement/orders/{waiting.pk}/")
    expect(page.locator('[data-test="uncommitted-after"]')).to_contain_text("−£40,000.00")
    page.get_by_label("I approve this order within my delegated authority").check()
    page.get_by_role("button", name="Approve and commit").click()
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text("There is a problem")
    expect(summary).to_contain_text(f"would exceed the {year} laptop line by £40,000.00")
    check_page(page)
    waiting.refresh_from_db()
    assert waiting.status == PurchaseOrder.Status.SUBMITTED and waiting.committed_total == 0

    # The envelope page shows the line's headroom, and the XLSX export downloads, marked
    page.goto(f"{live_server.url}/procurement/")
    row = page.locator(f'tr[data-line="{line.pk}"]')
    expect(row.locator('[data-test="headroom"]')).to_contain_text("£80,000.00")
    check_page(page, "envelope")
    with page.expect_download() as download:
        page.locator('[data-test="export-xlsx"]').click()
    path = download.value.path()
    assert download.value.suggested_filename.endswith("OFFICIAL-SENSITIVE-COMMERCIAL.xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(path.read_bytes())).active
    assert sheet["A1"].value == f"Classification: {OFFICIAL_SENSITIVE_COMMERCIAL}"

    # The contracts page
    page.goto(f"{live_server.url}/procurement/contracts/")
    expect(page.locator('[data-test="contract-list"]')).to_contain_text("TEPAS2-CO-0147")
    check_page(page, "contracts")
