"""Every output that shows headroom gives the same number for the same year and line:
the envelope page, its XLSX and CSV exports, the procurement API and the monthly
finance report (issue 16: "a test compares them")."""

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import openpyxl
import pytest
from django.urls import reverse
from freezegun import freeze_time
from rest_framework.test import APIClient

# Imported before any test freezes the clock: DRF's throttles keep ``time.time`` as a
# class attribute, and a class created under freezegun would keep the fake one.
import api.throttling  # noqa: F401
from accounts.roles import Role
from tests.factories import UserFactory
from tests.procurement.conftest import approve_on

pytestmark = pytest.mark.usefixtures("thresholds", "authorities")
DAY = dt.date(2025, 6, 15)


@pytest.fixture
def position_world(make_order, commercial_officer, laptop_line, refresh_estate):
    """Four laptops forecast at £1,000 in 2025/26, one on an approved £1,500 order, a
    second order submitted only: headroom £1,000,000 − £1,500 − 3 × £1,000."""
    approve_on(make_order("1500.00"), commercial_officer, DAY)
    make_order("999.00")
    return laptop_line


def _page(client, line) -> Decimal:
    html = client.get(reverse("procurement:dashboard"), {"as_of": DAY.isoformat()}).content
    row = re.search(
        rf'data-line="{line.pk}".*?data-test="headroom" data-value="([^"]+)"',
        html.decode(),
        re.S,
    )
    return Decimal(row.group(1))


def _xlsx(client, line) -> Decimal:
    body = client.get(reverse("procurement:dashboard_export"), {"as_of": DAY.isoformat()})
    sheet = openpyxl.load_workbook(io.BytesIO(body.content)).active
    rows = [[c.value for c in r] for r in sheet.iter_rows()]
    header = next(r for r in rows if "Headroom (£)" in r and "Category" in r)
    row = next(r for r in rows if r[:2] == [line.financial_year, line.get_category_display()])
    return Decimal(str(row[header.index("Headroom (£)")])).quantize(Decimal("0.01"))


def _csv(client, line) -> Decimal:
    body = client.get(reverse("procurement:dashboard_export_csv"), {"as_of": DAY.isoformat()})
    rows = list(csv.reader(io.StringIO(body.content.decode("utf-8-sig"))))
    header = next(r for r in rows if "Headroom (£)" in r and "Category" in r)
    row = next(r for r in rows if r[:2] == [line.financial_year, line.get_category_display()])
    return Decimal(row[header.index("Headroom (£)")])


def _api(user, line) -> Decimal:
    api = APIClient()
    api.force_authenticate(user)
    body = api.get("/api/v1/procurement/envelope-position/", {"as_of": DAY.isoformat()}).json()
    return Decimal(next(r for r in body["rows"] if r["budget_line_id"] == line.pk)["headroom"])


def _finance_report(line) -> Decimal:
    from reports import documents, selectors

    document = documents.finance_document(
        position=selectors.finance_position(as_of=DAY),
        period_label="June 2025",
        generated_at=dt.datetime(2025, 6, 15, 12, tzinfo=dt.UTC),
    )
    for table in document.tables:
        if "Headroom" in table.header and "Budget line id" in table.header:
            row = next(r for r in table.rows if r[table.header.index("Budget line id")] == line.pk)
            return Decimal(row[table.header.index("Headroom")])
    raise AssertionError("no headroom per budget line in the finance report")


def test_page_exports_api_and_finance_report_agree_on_the_headroom(client, position_world):
    line = position_world
    finance = UserFactory(role=Role.FINANCE)
    client.force_login(finance)

    with freeze_time(dt.datetime.combine(DAY, dt.time(12))):
        figures = {
            "page": _page(client, line),
            "xlsx": _xlsx(client, line),
            "csv": _csv(client, line),
            "api": _api(finance, line),
            "finance report": _finance_report(line),
        }

    expected = Decimal("1000000.00") - Decimal("1500.00") - Decimal("3000.00")
    assert figures == dict.fromkeys(figures, expected)
