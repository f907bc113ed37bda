"""Journey: a finance officer signs in and lands on the capital envelope, with a
"For you" list of the orders awaiting their approval (issue 14, "each role lands on
its own page"), in a real browser.

Two orders were submitted by an asset manager and one by the officer themselves:
the list says 2 (an order is approved by someone other than its raiser) and links
to the submitted orders. The landing page passes ``check_page`` ("home-finance").
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from accounts.services import user_create
from core.financial_year import financial_year
from procurement import services
from procurement.models import Supplier
from tests.browser_support import PASSWORD, check_page, sign_in
from tests.factories import BusinessUnitFactory, DeviceModelFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(transactional_db):
    year = financial_year(services.london_today()).label
    officer = user_create(username="finance.officer", role="finance", password=PASSWORD)
    raiser = user_create(username="asset.manager", role="asset-manager", password=None)
    envelope = services.capital_envelope_create(
        name="EUS device demand",
        total=Decimal("46763000.00"),
        decision_reference="DMPC-2025-001",
        owner=officer,
    )
    line = services.budget_line_create(
        envelope=envelope, financial_year=year, category="laptop", amount=Decimal("2000000.00")
    )
    unit = BusinessUnitFactory(code="NORTH", name="North Area")
    supplier = Supplier.objects.create(name="Albion Technology Services Ltd")
    model = DeviceModelFactory()
    for who, price in ((raiser, "1000.00"), (raiser, "2000.00"), (officer, "3000.00")):
        order = services.purchase_order_create(
            budget_line=line,
            supplier=supplier,
            business_unit=unit,
            raised_by=who,
            lines=[{"device_model": model, "quantity": 1, "unit_price": Decimal(price)}],
        )
        services.purchase_order_submit(purchase_order=order, actor=who)
    return {"envelope": envelope}


def test_a_finance_officer_lands_on_the_envelope_with_what_awaits_them(page, live_server, world):
    sign_in(page, live_server, "finance.officer")

    # They land on the envelope, not the device counts
    expect(page.get_by_role("heading", level=1)).to_have_text("Capital envelope")
    expect(page.get_by_role("link", name="Home")).to_have_attribute("aria-current", "page")
    expect(page.locator('[data-test="headline-total"]')).to_contain_text("£46,763,000")
    item = page.locator('[data-test="for-you-orders"]')
    expect(item).to_have_text("2 orders awaiting your approval")
    check_page(page, "home-finance")

    # The item leads to the submitted orders
    item.get_by_role("link").click()
    expect(page).to_have_url(f"{live_server.url}/procurement/orders/?status=submitted")
