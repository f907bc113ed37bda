"""Journey: an asset manager sanitises, grades and routes a returned laptop on the
disposals board, and a finance officer rejects an override another asset manager asked
for (issues 12 and 14), in a real browser.

The asset manager finds the laptop in the "Awaiting sanitisation" queue by typing the
start of its asset tag, records a passing wipe (the date as day, month and year, the
time as typed), then grades it: first forgetting the grade, which the GOV.UK error
summary names ("Grade for MPS0123456: choose a condition grade") with the laptop still
ticked; then choosing one. On "Value assessed" the row shows the suggested route and
its reason (no value: an asset manager may not see commercial figures) before they
accept it. The custody page shows the route.

A finance officer opens the overrides awaiting sign-off, sees the estimated value of a
laptop another asset manager asked to donate, and rejects the request with a reason:
the laptop keeps its suggested resale, and its custody record says who asked, who
rejected, when and why. Every page visited passes ``check_page`` (axe, fits a 390 px
screen); the board and the custody page are kept as screenshots.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.services import user_create
from devices.models import Device
from disposals import services
from disposals.models import DisposalCase, ResidualValueRule, Route, RouteOverrideSignOff
from tests.browser_support import PASSWORD, check_page, sign_in
from tests.factories import BusinessUnitFactory, DeviceFactory, DeviceModelFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TAG = "MPS0123456"
OVERRIDE_TAG = "MPS0777001"
REASON = "Worth more sold: the income funds replacements. Pledge an older laptop."


@pytest.fixture
def world(transactional_db):
    today = timezone.localdate()
    unit = BusinessUnitFactory(code="CE", name="Central East BCU")
    laptop = DeviceModelFactory(name="Latitude 7440", unit_price=Decimal("1000.00"))
    ResidualValueRule.objects.create(
        name="Finance rule",
        effective_from=dt.date(2000, 1, 1),
        base_percent_laptop=Decimal("50"),
        depreciation_percent_per_year=Decimal("10"),
        floor=Decimal("5.00"),
        resale_threshold=Decimal("100.00"),
    )
    manager = user_create(username="asset.manager", role="asset-manager", password=PASSWORD)
    colleague = user_create(username="asset.manager.two", role="asset-manager", password=None)
    user_create(username="finance.officer", role="finance", password=PASSWORD)

    def returned(tag):
        return DeviceFactory(
            asset_tag=tag,
            business_unit=unit,
            device_model=laptop,
            status=Device.Status.RETURNED,
            purchase_date=today - dt.timedelta(days=730),
        )

    # Three laptops awaiting sanitisation; the one to find is among them.
    waiting = [returned(TAG), returned("MPS0999001"), returned("MPS0999002")]
    services.disposal_cases_open(device_ids=[d.pk for d in waiting], actor=manager)
    # A laptop worth reselling that a colleague asked to donate instead.
    pledged = returned(OVERRIDE_TAG)
    case = services.disposal_cases_open(device_ids=[pledged.pk], actor=colleague)[0]
    services.sanitisation_records_record(
        items=[
            services.SanitisationInput(
                device_id=pledged.pk,
                method="crypto_erase",
                standard="NIST SP 800-88 Purge",
                tool="Blancco Drive Eraser",
                operator="C1041 R. Osei",
                verifier="C2302 L. Byrne",
                performed_at=timezone.now() - dt.timedelta(days=1),
                result="pass",
                certificate_ref="BL-777001",
            )
        ],
        actor=colleague,
    )
    services.assessments_record(case_ids=[case.pk], grade="A", actor=colleague)
    services.routes_decide(
        case_ids=[case.pk],
        actor=colleague,
        route=Route.REUSE,
        override_reason="Pledged to the LOTI school laptop scheme",
    )
    return {"device": waiting[0], "pledged": pledged}


def test_asset_manager_sanitises_grades_and_routes_and_finance_rejects_an_override(
    page, browser, live_server, world
):
    device = world["device"]
    sign_in(page, live_server, "asset.manager")

    # Find the laptop inside the "Awaiting sanitisation" queue by the start of its tag.
    page.goto(f"{live_server.url}/disposals/")
    page.get_by_role("link", name=re.compile(r"^Awaiting sanitisation")).click()
    page.get_by_label("Search awaiting sanitisation by asset tag or serial number").fill(TAG[:8])
    page.get_by_role("button", name="Search", exact=True).click()
    table = page.locator('[data-test="board-table"]')
    expect(table.get_by_role("link", name=TAG)).to_be_visible()
    expect(table.locator("tbody tr")).to_have_count(1)
    check_page(page, "disposals-board")

    # Record a passing wipe: the date as day, month and year, the time as typed.
    page.get_by_label(f"Select {device}").check()
    page.get_by_label("Method").select_option(label="Overwrite")
    page.get_by_label("Standard").fill("HMG IS5 Enhanced")
    page.get_by_label("Tool or software").fill("Blancco Drive Eraser")
    page.get_by_label("Operator").fill("C1041 R. Osei")
    page.get_by_label("Verifier").fill("C2302 L. Byrne")
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    page.get_by_label("Day").fill(str(yesterday.day))
    page.get_by_label("Month").fill(str(yesterday.month))
    page.get_by_label("Year").fill(str(yesterday.year))
    page.get_by_label("Time performed").fill("14:30")
    page.get_by_label("Pass").check()
    page.get_by_label("Certificate or log reference").fill("BATCH-2026-07")
    page.get_by_role("button", name="Record sanitisation").first.click()
    expect(page.get_by_text("Recorded 1 sanitisation result(s).")).to_be_visible()

    # Grade it: forgetting the grade is refused, naming the laptop, still ticked.
    page.get_by_role("link", name=re.compile(r"^Sanitised")).click()
    page.get_by_label(f"Select {device}").check()
    page.get_by_role("button", name="Assess residual value").first.click()
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text(f"Grade for {TAG}: choose a condition grade")
    expect(summary).not_to_contain_text("This field is required")
    expect(page.get_by_label(f"Select {device}")).to_be_checked()
    check_page(page)
    summary.get_by_role("link", name=f"Grade for {TAG}: choose a condition grade").click()
    expect(page.get_by_label(f"Grade for {TAG}")).to_be_focused()
    page.get_by_label(f"Grade for {TAG}").select_option("A")
    page.get_by_role("button", name="Assess residual value").first.click()
    expect(page.get_by_text("Assessed 1 device(s)")).to_be_visible()

    # The suggestion and its reason are in the row before accepting; no value for an
    # asset manager.
    page.get_by_role("link", name=re.compile(r"^Value assessed")).click()
    page.get_by_label("Search value assessed by asset tag or serial number").fill(TAG)
    page.get_by_role("button", name="Search", exact=True).click()
    row = page.locator('[data-test="board-table"] tbody tr')
    expect(row.locator('[data-test="suggestion"]')).to_contain_text("Resale")
    expect(row.locator('[data-test="suggestion"]')).to_contain_text(
        "Estimated value reaches the resale threshold."
    )
    expect(page.locator('[data-test="board-table"]')).not_to_contain_text("£")
    check_page(page)
    page.get_by_label(f"Select {device}").check()
    page.get_by_role("button", name="Accept suggested route").first.click()
    expect(
        page.get_by_text("Accepted the suggested route for 1 device(s): Resale.")
    ).to_be_visible()

    # The custody record shows every step and the route.
    page.goto(f"{live_server.url}/disposals/devices/{device.pk}/custody/")
    expect(page.locator('[data-test="route"]')).to_have_text("Resale")
    expect(page.locator('[data-test="custody-events"]')).to_contain_text("Sanitisation recorded")
    check_page(page, "custody")
    case = DisposalCase.objects.get(device=device)
    assert (case.status, case.route) == ("route_chosen", Route.RESALE)

    # A finance officer rejects the override a colleague of the asset manager asked for.
    finance = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    try:
        officer = finance.new_page()
        officer.set_default_timeout(15_000)
        sign_in(officer, live_server, "finance.officer")
        officer.goto(f"{live_server.url}/disposals/sign-offs/")
        sign_offs = officer.locator('[data-test="sign-off-table"]')
        expect(sign_offs).to_contain_text(OVERRIDE_TAG)
        expect(sign_offs).to_contain_text("Pledged to the LOTI school laptop scheme")
        expect(sign_offs.locator('[data-test="value"]')).to_contain_text("£")  # finance sees it
        check_page(officer)
        # Rejecting with no reason is refused, naming the field.
        officer.get_by_label(f"Select {world['pledged']}").check()
        officer.get_by_text("Reject the selected overrides (needs a reason)").click()
        officer.get_by_role("button", name="Reject the selected overrides").click()
        expect(officer.locator(".govuk-error-summary")).to_contain_text(
            "Enter the reason for rejecting the override."
        )
        expect(officer.get_by_label(f"Select {world['pledged']}")).to_be_checked()
        officer.get_by_label("Reason for rejecting").fill(REASON)
        officer.get_by_role("button", name="Reject the selected overrides").click()
        expect(officer.get_by_text("Rejected 1 route override(s)")).to_be_visible()

        officer.goto(f"{live_server.url}/disposals/devices/{world['pledged'].pk}/custody/")
        decision = officer.locator('[data-test="sign-off"]')
        expect(decision).to_contain_text("Rejected")
        expect(decision).to_contain_text("finance.officer")
        expect(decision).to_contain_text(REASON)
        expect(officer.locator('[data-test="override-request"]')).to_contain_text(
            "asset.manager.two"
        )
        expect(officer.locator('[data-test="route"]')).to_have_text("Resale")
        check_page(officer)
    finally:
        finance.close()

    review = RouteOverrideSignOff.objects.get(decision__case__device=world["pledged"])
    assert (review.outcome, review.reason, review.signed_off_by.username) == (
        "rejected",
        REASON,
        "finance.officer",
    )
    assert DisposalCase.objects.get(device=world["pledged"]).route == Route.RESALE
