"""The procurement world the doors tests share: the business case's envelope, its
thresholds and the default approval table, a supplier with an awarded call-off, and
the people who raise, record and approve. Built through the services only.

Not a conftest: each tests/doors/test_procurement_*.py makes its ``world`` fixture
from ``build_world()``.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from html import unescape
from types import SimpleNamespace

from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

# Imported before any test freezes the clock: DRF's throttles keep ``time.time`` as a
# class attribute, and a class created under freezegun would keep the fake one.
import api.throttling  # noqa: F401
from accounts.roles import Role
from core.errors import DomainError
from procurement import services
from procurement.models import Contract, ProcurementThreshold, PurchaseOrder, Supplier
from tests.factories import BusinessUnitFactory, DeviceModelFactory, UserFactory

API = "/api/v1/procurement"
# A day in 2025/26 on which the doors approve (no back-dating at a door).
OPEN_DAY = "2025-06-02 12:00:00"


def build_world() -> SimpleNamespace:
    # (The tests freeze the clock themselves, once: freezegun does not nest well.)
    if True:
        owner = UserFactory(role=Role.FINANCE, username="finance.owner")
        envelope = services.capital_envelope_create(
            name="EUS device demand 2025/26 & 2026/27",
            total=Decimal("46763000.00"),
            decision_reference="DMPC-2025-001",
            owner=owner,
        )
        line = services.budget_line_create(
            envelope=envelope,
            financial_year="2025/26",
            category="laptop",
            amount=Decimal("5000000.00"),
        )
        next_line = services.budget_line_create(
            envelope=envelope,
            financial_year="2026/27",
            category="laptop",
            amount=Decimal("5000000.00"),
        )
        for kind, amount in (
            (ProcurementThreshold.Kind.REGULATIONS, "213477.00"),
            (ProcurementThreshold.Kind.DEPUTY_MAYOR, "500000.00"),
        ):
            services.threshold_create(
                kind=kind, amount=Decimal(amount), effective_from=dt.date(2024, 1, 1)
            )
        # The defaults: finance £213,476.99, commercial £25m, nobody unlimited.
        services.approval_authorities_default_ensure(effective_from=dt.date(2024, 1, 1))
        supplier = Supplier.objects.create(name="Albion Technology Services Ltd")
        commercial = UserFactory(role=Role.COMMERCIAL, username="commercial.awarder")
        call_off = services.contract_create(
            envelope=envelope,
            supplier=supplier,
            reference="TEPAS2-CO-0147",
            title="Laptops call-off",
            route=Contract.Route.CALL_OFF,
            framework_name="CCS Technology Products & Associated Services 2",
            framework_reference="RM6098",
            ordering_process_followed=True,
            framework_ceiling=Decimal("300000000.00"),
            framework_end_date=dt.date(2028, 3, 31),
            value_ceiling=Decimal("20000000.00"),
            start_date=dt.date(2025, 4, 1),
            end_date=dt.date(2027, 3, 31),
        )
        services.contract_award_record(
            contract=call_off,
            compliant_route="Call-off under RM6098 following its ordering process",
            dsp_consent_reference="DSP-0147",
            dsp_consent_on=dt.date(2025, 3, 20),
            awarded_on=dt.date(2025, 3, 21),
            dmpc_notified_on=dt.date(2025, 2, 20),
            dmpc_called_in=False,
            recorded_by=commercial,
        )
        return SimpleNamespace(
            envelope=envelope,
            line=line,
            next_line=next_line,
            supplier=supplier,
            call_off=call_off,
            unit=BusinessUnitFactory(),
            model=DeviceModelFactory(category="laptop"),
            owner=owner,
            raiser=UserFactory(role=Role.FINANCE, username="finance.raiser"),
            finance_approver=UserFactory(role=Role.FINANCE, username="finance.approver"),
            approver=UserFactory(role=Role.COMMERCIAL, username="commercial.approver"),
            recorder=UserFactory(role=Role.COMMERCIAL, username="strategic.procurement"),
            commercial=commercial,
        )


def raise_order(world, gross, *, contract=None, line=None, submit=True) -> PurchaseOrder:
    """A submitted order of exactly ``gross`` (one line, no VAT), raised by finance."""
    order = services.purchase_order_create(
        budget_line=line or world.line,
        supplier=world.supplier,
        business_unit=world.unit,
        raised_by=world.raiser,
        contract=contract,
        lines=[
            {
                "device_model": world.model,
                "quantity": 1,
                "unit_price": Decimal(gross),
                "vat_rate": Decimal("0"),
            }
        ],
    )
    if submit:
        services.purchase_order_submit(purchase_order=order, actor=world.raiser)
    return order


def record(world, order, kind, by=None):
    return services.approval_record_add(
        purchase_order=order, kind=kind, reference=f"{kind}-ref", recorded_by=by or world.recorder
    )


def page_messages(response) -> str:
    return " ".join(str(m) for m in get_messages(response.wsgi_request))


def error_summary(response) -> str:
    """The text of the page's GOV.UK error summary ("" when it has none)."""
    html = response.content.decode()
    start = html.find('class="govuk-error-summary"')
    if start < 0:
        return ""
    start = html.find(">", start) + 1
    end = html.find("</ul>", start)
    text = re.sub(r"<[^>]+>", " ", html[start:end])
    return " ".join(unescape(text).split())


def approve_through(door: str, order: PurchaseOrder, user) -> tuple[str, str]:
    """Approve ``order`` as ``user`` through a door: (code, message); ("ok", "") when
    approved. The page gives no code, only its message ("page" for a refusal)."""
    if door == "service":
        try:
            services.purchase_order_approve(purchase_order=order, approved_by=user)
        except DomainError as exc:
            return exc.code, exc.message
        return "ok", ""
    if door == "page":
        client = Client()
        client.force_login(user)
        response = client.post(
            reverse("procurement:purchase_order_approve", args=[order.pk]), {"confirm": "on"}
        )
        order.refresh_from_db()
        if order.status == PurchaseOrder.Status.APPROVED:
            assert response.status_code == 302
            return "ok", ""
        # A refusal comes back on the order's page, in the GOV.UK error summary.
        assert response.status_code == 200
        summary = error_summary(response)
        assert summary.startswith("There is a problem"), summary
        return "page", summary
    if door == "api":
        client = APIClient()
        client.force_authenticate(user)
        response = client.post(f"{API}/purchase-orders/{order.pk}/approve/")
        if response.status_code == 200:
            return "ok", ""
        error = response.json()["error"]
        return error["code"], error["message"]
    raise AssertionError(door)


def assert_not_approved(order: PurchaseOrder) -> None:
    order.refresh_from_db()
    assert order.status == PurchaseOrder.Status.SUBMITTED
    assert order.committed_total == 0
    assert order.approved_by_id is None
