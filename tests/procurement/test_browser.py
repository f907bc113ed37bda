"""The procurement pages in headless Chromium: each loads with one h1, no axe
violations and fits a 390 px screen (``check_page``), and the burn-down chart is
drawn beside its table."""

import random

import pytest

from accounts.services import user_create
from tests.browser_support import CHROMIUM, check_page
from tests.factories import BusinessUnitFactory, DeviceModelFactory, ManufacturerFactory

PASSWORD = "Correct-Horse-Battery-42"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium"),
]


@pytest.fixture
def demo_data(transactional_db):
    """The procurement demo on a small estate, plus password logins."""
    import datetime as dt
    import io
    from decimal import Decimal

    from procurement import demo

    BusinessUnitFactory.create_batch(2)
    maker = ManufacturerFactory(name="Dell")
    for name, category, price in [
        ("Latitude 5450", "laptop", "1019.00"),
        ("OptiPlex 7010", "desktop", "769.00"),
        ("P2425H", "monitor", "179.00"),
        ("Phone 1", "smartphone", "399.00"),
    ]:
        DeviceModelFactory(
            manufacturer=maker, name=name, category=category, unit_price=Decimal(price)
        )
    demo.seed(rng=random.Random("browser"), today=dt.date(2026, 11, 25), stdout=io.StringIO())
    for username, role in [
        ("finance.officer", "finance"),
        ("commercial.officer", "commercial"),
        ("asset.manager", "asset-manager"),
    ]:
        user_create(username=username, role=role, password=PASSWORD)


def sign_in(page, live_server, username):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")


@pytest.mark.parametrize("username", ["finance.officer", "commercial.officer", "asset.manager"])
def test_procurement_pages_load_with_one_h1_no_axe_violations_and_fit_a_phone(
    page, live_server, demo_data, username
):
    from procurement.models import Contract, PurchaseOrder

    sign_in(page, live_server, username)
    orders = PurchaseOrder.objects.order_by("pk")
    paths = ["/procurement/", "/procurement/contracts/", "/procurement/orders/"]
    paths += [f"/procurement/contracts/{c.pk}/" for c in Contract.objects.order_by("pk")]
    paths += [f"/procurement/orders/{o.pk}/" for o in orders]
    line = orders.first().budget_line_id
    paths.append(f"/procurement/orders/?budget_line={line}")
    paths.append(f"/procurement/orders/{orders.filter(status='ordered').first().pk}/receive/")
    if username != "asset.manager":
        paths += ["/procurement/budget-lines/", "/procurement/orders/new/"]
        paths.append(f"/procurement/orders/{orders.filter(status='draft').first().pk}/edit/")
        submitted = orders.filter(status="submitted").first().pk
        paths += [
            f"/procurement/orders/{submitted}/return/",
            f"/procurement/orders/{submitted}/cancel/",
        ]
    if username == "commercial.officer":
        paths.append("/procurement/contracts/new/")
    for path in paths:
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, path
        assert page.locator("h1").count() == 1, path
        check_page(page)


def test_burn_down_chart_is_drawn_beside_its_table(page, live_server, demo_data):
    sign_in(page, live_server, "finance.officer")

    page.goto(f"{live_server.url}/procurement/")
    page.wait_for_load_state("networkidle")

    drawn = page.evaluate(
        "() => { const c = document.getElementById('burn-down-chart');"
        " return !!(window.Chart && Chart.getChart(c)); }"
    )
    assert drawn
    assert page.locator("[data-test=burn-down-table] tbody tr").count() == 24
