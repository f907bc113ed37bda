"""Each role lands on its own page (``/``) with a "For you" list: counts of what waits
for that user, in their units, leaving out what they cannot act on themselves."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from devices import services as device_services
from devices.models import Device
from disposals import services as disposal_services
from procurement import services as procurement_services
from procurement.models import PurchaseOrder
from reports.models import ReportRun
from tests.factories import BusinessUnitFactory, DeviceFactory, PersonFactory
from tests.procurement.conftest import (  # noqa: F401 - fixtures
    envelope,
    laptop_line,
    laptop_model,
    make_order,
    raiser,
    supplier,
    unit,
)

pytestmark = pytest.mark.django_db


def for_you(response) -> dict[str, int]:
    return {item.key: item.count for item in response.context["for_you"]}


def shown_count(html: str, key: str) -> str:
    match = re.search(rf'data-test="for-you-{key}">.*?data-test="count">([^<]+)<', html, re.S)
    assert match, f"the For you list shows {key}"
    return match.group(1)


def test_a_finance_officer_lands_on_the_envelope_with_orders_awaiting_their_approval(
    client,
    make_user,
    make_order,  # noqa: F811 - the procurement fixtures imported above
    laptop_line,  # noqa: F811
    supplier,  # noqa: F811
    unit,  # noqa: F811
    laptop_model,  # noqa: F811
):
    officer = make_user(Role.FINANCE)
    make_order(Decimal("1000.00"))
    make_order(Decimal("2000.00"))
    make_order(Decimal("3000.00"), submit=False)  # a draft awaits no one
    own = procurement_services.purchase_order_create(
        budget_line=laptop_line,
        supplier=supplier,
        business_unit=unit,
        raised_by=officer,
        lines=[{"device_model": laptop_model, "quantity": 1, "unit_price": Decimal("10.00")}],
    )
    procurement_services.purchase_order_submit(purchase_order=own, actor=officer)
    assert PurchaseOrder.objects.filter(status=PurchaseOrder.Status.SUBMITTED).count() == 3
    client.force_login(officer)

    response = client.get(reverse("dashboard"))

    assert [t.name for t in response.templates][0] == "workspace/home_finance.html"
    assert for_you(response)["orders"] == 2  # not the one they raised
    html = response.content.decode()
    assert shown_count(html, "orders") == "2"
    assert "orders awaiting your approval" in html
    assert response.context["envelope"]["total"] == Decimal("46763000.00")
    assert "£46,763,000" in html  # whole pounds in the headline
    assert reverse("procurement:dashboard") in html
    assert "OFFICIAL-SENSITIVE" in html  # the page carries money: marked commercial


def test_an_asset_manager_lands_on_the_dashboard_with_their_work(client, make_user):
    north = BusinessUnitFactory(code="N", name="North")
    south = BusinessUnitFactory(code="S", name="South")
    manager = make_user(Role.ASSET_MANAGER, units=[north])
    colleague = make_user(Role.ASSET_MANAGER)
    # AT checks: one deployed by a colleague (theirs to confirm), one by themselves
    # (someone else must confirm it), one in another unit (not theirs to see).
    for deployer, where in ((colleague, north), (manager, north), (colleague, south)):
        person = PersonFactory(business_unit=where, at_needs=True)
        device_services.device_deploy(
            device=DeviceFactory(business_unit=where), person=person, actor=deployer
        )
    # Entitlement exceptions: one requested by a colleague, one by themselves.
    for requester in (colleague, manager):
        device_services.entitlement_exception_request(
            person=PersonFactory(business_unit=north),
            category="laptop",
            reason="Second screen for a disability adjustment",
            requested_by=requester,
        )
    # Devices awaiting sanitisation: two in North, one in South.
    returned = [
        DeviceFactory(business_unit=where, status=Device.Status.RETURNED)
        for where in (north, north, south)
    ]
    disposal_services.disposal_cases_open(device_ids=[d.pk for d in returned], actor=colleague)
    client.force_login(manager)

    response = client.get(reverse("dashboard"))

    assert [t.name for t in response.templates][0] == "workspace/home.html"
    assert for_you(response) == {
        "swaps": 0,
        "sanitisation": 2,
        "at_checks": 1,
        "exceptions": 1,
        "reports": 0,
    }
    html = response.content.decode()
    assert shown_count(html, "at_checks") == "1"
    assert shown_count(html, "swaps") == "No"
    assert "AT check waiting for a second person" in html
    assert response.context["counts"]["total"] == 4  # North's devices only: 2 deployed, 2 returned


def test_a_unit_viewer_sees_the_reports_ready_for_their_units_only(client, make_user):
    north = BusinessUnitFactory(code="N", name="North")
    south = BusinessUnitFactory(code="S", name="South")
    for where, period in ((north, dt.date(2026, 9, 1)), (north, dt.date(2026, 10, 1))):
        ReportRun.objects.create(
            kind=ReportRun.Kind.STEWARDSHIP,
            business_unit=where,
            period_start=period,
            period_end=period.replace(day=28),
            status=ReportRun.Status.SUCCEEDED,
            finished_at=timezone.now(),
        )
    ReportRun.objects.create(  # a later month, but another unit's
        kind=ReportRun.Kind.STEWARDSHIP,
        business_unit=south,
        period_start=dt.date(2026, 11, 1),
        period_end=dt.date(2026, 11, 30),
        status=ReportRun.Status.SUCCEEDED,
        finished_at=timezone.now(),
    )
    viewer = make_user(Role.UNIT_VIEWER, units=[north])
    client.force_login(viewer)

    response = client.get(reverse("dashboard"))

    assert [item.key for item in response.context["for_you"]] == ["reports"]
    item = response.context["for_you"][0]
    assert item.count == 1
    assert item.label == "report ready for October 2026"
    assert "period=2026-10-01" in item.url


def test_navigation_starts_with_home(client, make_user):
    client.force_login(make_user(Role.UNIT_VIEWER))
    response = client.get(reverse("devices:device_list"))
    assert response.context["navigation"][0]["label"] == "Home"
    assert response.context["navigation"][0]["url"] == "/"
