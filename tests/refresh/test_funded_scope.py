"""The envelope's scope (issue 16, refresh's side): the paper funds laptops, desktops,
monitors and smartphones. Tablets are forecast and priced as demand, but shown apart
and never summed into the envelope's figures; the funded set is a parameter
procurement fills from its data, defaulting to the paper's four."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.roles import Role
from devices.models import Category
from refresh import selectors, services
from tests.factories import BusinessUnitFactory, DeviceFactory, DeviceModelFactory

pytestmark = pytest.mark.django_db

# This year and next; the devices below are overdue, so their demand is this year's.
FYS = selectors.default_financial_years()[:2]
THIS_YEAR = FYS[0].label


@pytest.fixture
def estate(policies):
    unit = BusinessUnitFactory(code="A")
    tablet = DeviceModelFactory(name="iPad", category=Category.TABLET, unit_price=Decimal("400"))
    # 3 laptops and 5 tablets (48 months each), overdue: this year's demand
    for _ in range(3):
        DeviceFactory(business_unit=unit, purchase_date=dt.date(2019, 6, 1))
    for _ in range(5):
        DeviceFactory(business_unit=unit, device_model=tablet, purchase_date=dt.date(2019, 6, 1))
    services.bau_rate_save(category=Category.LAPTOP, planning_unit_price=Decimal("1000.00"))
    services.eligibility_recompute()
    return unit


def by_category(rows):
    return {r["category"]: r for r in rows if r["financial_year"] == THIS_YEAR}


def test_the_paper_funds_four_categories_and_not_tablets():
    assert selectors.funded_set() == {"laptop", "desktop", "monitor", "smartphone"}
    assert selectors.funded_set(["laptop"]) == {"laptop"}


def test_forecast_rows_say_whether_the_envelope_funds_them(estate):
    rows = by_category(selectors.forecast_totals(financial_years=FYS))
    assert (rows["laptop"]["volume"], rows["laptop"]["funded"]) == (3, True)
    assert (rows["tablet"]["volume"], rows["tablet"]["funded"]) == (5, False)
    assert rows["tablet"]["cost"] == Decimal("2000.00")  # still priced, for planning
    # procurement passes its envelope's own categories
    rows = by_category(
        selectors.forecast_totals(financial_years=FYS, funded_categories=["laptop", "tablet"])
    )
    assert rows["tablet"]["funded"] is True


def test_the_forecast_with_variance_keeps_tablets_apart(estate):
    result = selectors.forecast_with_variance(financial_years=FYS)
    assert {r["category"] for r in result["funded_rows"]} == {"laptop"}
    assert {r["category"] for r in result["outside_rows"]} == {"tablet"}


def test_the_scenario_comparison_never_counts_tablets_against_the_envelope(estate, asset_manager):
    scenario = services.scenario_save(name="As is", overrides={}, actor=asset_manager)
    result = selectors.scenario_compare(scenario=scenario, financial_years=FYS)
    assert result["base_cost"] == Decimal("3000.00")  # 3 laptops at £1,000; no tablets
    assert result["base_volume"] == 3
    assert result["outside"]["base_volume"] == 5
    assert result["outside"]["base_cost"] == Decimal("2000.00")
    funded_too = selectors.scenario_compare(
        scenario=scenario, financial_years=FYS, funded_categories=["laptop", "tablet"]
    )
    assert funded_too["base_cost"] == Decimal("5000.00")


def test_the_forecast_page_shows_tablets_apart_from_the_envelopes_totals(client, estate, make_user):
    client.force_login(make_user(Role.FINANCE))
    response = client.get(reverse("refresh:forecast"))
    page = response.content.decode()
    assert {r["category"] for r in response.context["rows"]} == {"laptop"}
    assert response.context["year_totals"][0]["volume"] == 3
    assert response.context["year_totals"][0]["cost"] == Decimal("3000.00")
    outside = page.split('data-test="forecast-outside"', 1)[1].split("</table>", 1)[0]
    assert "Tablet" in outside
    assert "Tablet" not in page.split('data-test="forecast-table"', 1)[1].split("</table>")[0]
    assert "The capital envelope funds laptop, desktop, monitor, smartphone." in page


def test_the_scenario_page_shows_tablets_apart(client, estate, make_user):
    finance = make_user(Role.FINANCE)
    scenario = services.scenario_save(name="As is", overrides={}, actor=finance)
    client.force_login(finance)
    page = client.get(reverse("refresh:scenario_compare", args=[scenario.pk])).content.decode()
    main = page.split('data-test="compare-table"', 1)[1].split("</table>", 1)[0]
    assert "Tablet" not in main and "Laptop" in main
    assert "Tablet" in page.split('data-test="compare-outside"', 1)[1]
    assert "£3,000" in page.split('data-test="compare-totals"', 1)[1].split("</dl>", 1)[0]


def test_the_forecast_export_and_api_mark_what_is_funded(client, estate, make_user):
    finance = make_user(Role.FINANCE)
    client.force_login(finance)
    lines = client.get(reverse("refresh:forecast_export")).content.decode("utf-8-sig")
    tablet_lines = [line for line in lines.splitlines() if ",tablet," in line]
    assert tablet_lines and all(
        line.endswith("no: outside the envelope's scope") for line in tablet_lines
    )
    api = APIClient()
    api.force_authenticate(finance)
    body = api.get("/api/v1/refresh/forecast/?years=2").json()
    funded = {(r["category"], r["funded"]) for r in body["results"]}
    assert ("tablet", False) in funded and ("laptop", True) in funded
