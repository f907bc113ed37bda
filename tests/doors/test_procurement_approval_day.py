"""Issue 12 (leftover): the approval day is always today, at every door.

No caller names the day an order is approved: the service takes none, the page and the
API ignore any day sent to them, so nobody approves into a financial year that has
closed. The demo writes its past approvals through a separately named loader that no
door reaches. Also here: returning an order to draft and cancelling it need a reason
(service, page; the database for cancellation), and a budget line only for a category
its envelope funds (service, admin).
"""

from __future__ import annotations

import datetime as dt
import inspect
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from freezegun import freeze_time
from rest_framework.test import APIClient

from core.errors import DomainError
from procurement import demo, services
from procurement.models import BudgetLine, PurchaseOrder
from tests.procurement.doors_support import (
    API,
    approve_through,
    assert_not_approved,
    build_world,
    error_summary,
    raise_order,
)

# After 2025/26 closed: its line takes no more commitments, whatever day a caller names.
AFTER_CLOSE = "2026-04-02 12:00:00"
BACK_DATED = "2025-06-02"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def closed_year_order(world):
    # Raised and submitted while 2025/26 was open.
    with freeze_time("2026-03-01 12:00:00"):
        return raise_order(world, "1000.00")


def test_the_service_takes_no_approval_day(world):
    parameters = inspect.signature(services.purchase_order_approve).parameters

    assert set(parameters) == {"purchase_order", "approved_by"}
    with pytest.raises(TypeError):
        services.purchase_order_approve(  # type: ignore[call-arg]
            purchase_order=None, approved_by=world.approver, on_date=dt.date(2025, 6, 2)
        )


@pytest.mark.parametrize(
    "door", ["service", "page", "api"], ids=["rule4-day-service", "rule4-day-page", "rule4-day-api"]
)
def test_a_back_dated_approval_into_a_closed_year_is_refused_at_every_door(
    world, closed_year_order, door
):
    order = closed_year_order
    with freeze_time(AFTER_CLOSE):
        if door == "page":
            # Any day the page is sent is ignored: it approves today.
            client = Client()
            client.force_login(world.approver)
            response = client.post(
                reverse("procurement:purchase_order_approve", args=[order.pk]),
                {"confirm": "on", "on_date": BACK_DATED, "approved_on": BACK_DATED},
            )
            assert response.status_code == 200
            message = error_summary(response)
        elif door == "api":
            client = APIClient()
            client.force_authenticate(world.approver)
            response = client.post(
                f"{API}/purchase-orders/{order.pk}/approve/",
                {"on_date": BACK_DATED, "approved_on": BACK_DATED},
                format="json",
            )
            assert response.status_code == 400
            assert response.json()["error"]["code"] == "financial_year_closed"
            message = response.json()["error"]["message"]
        else:
            code, message = approve_through("service", order, world.approver)
            assert code == "financial_year_closed"

    assert "closed on 31 March 2026" in message
    assert_not_approved(order)


def test_an_approval_is_dated_the_day_it_is_made(world):
    order = raise_order(world, "1000.00", line=world.next_line)

    with freeze_time("2026-05-06 09:00:00"):
        services.purchase_order_approve(purchase_order=order, approved_by=world.approver)

    order.refresh_from_db()
    assert order.status == PurchaseOrder.Status.APPROVED
    assert order.approved_on == dt.date(2026, 5, 6)


def test_the_demo_history_loader_records_past_days_only(world):
    order = raise_order(world, "1000.00")

    with freeze_time("2026-05-06 09:00:00"), pytest.raises(ValueError, match="past approvals"):
        demo.approve_as_history(
            purchase_order=order, approved_by=world.approver, approved_on=dt.date(2026, 5, 6)
        )
    assert_not_approved(order)

    with freeze_time("2026-05-06 09:00:00"):
        demo.approve_as_history(
            purchase_order=order, approved_by=world.approver, approved_on=dt.date(2025, 6, 2)
        )
    order.refresh_from_db()
    assert (order.status, order.approved_on) == ("approved", dt.date(2025, 6, 2))


def test_the_demo_history_loader_applies_the_rules_as_on_its_day(world):
    order = raise_order(world, "1000.00")

    with pytest.raises(DomainError) as refused:
        demo.approve_as_history(
            purchase_order=order, approved_by=world.raiser, approved_on=dt.date(2025, 6, 2)
        )

    assert refused.value.code == "same_person"
    assert_not_approved(order)


def test_only_the_demo_loader_reaches_the_dated_approval():
    """``_approve_on`` takes a day: no page, API, admin, task or command may call it."""
    callers = sorted(
        str(path.relative_to(ROOT))
        for app in ("accounts", "api", "config", "core", "demo", "devices", "disposals")
        + ("procurement", "refresh", "reports", "workspace")
        for path in (ROOT / app).rglob("*.py")
        if "_approve_on" in path.read_text(encoding="utf-8")
    )

    assert callers == ["procurement/demo.py", "procurement/services/orders.py"]


# --- a reason for returning to draft and for cancelling ------------------------------------


@pytest.mark.parametrize("action", ["return", "cancel"])
def test_the_service_refuses_a_blank_reason(world, action):
    order = raise_order(world, "1000.00")
    act = (
        services.purchase_order_return_to_draft
        if action == "return"
        else services.purchase_order_cancel
    )

    with pytest.raises(DomainError) as refused:
        act(purchase_order=order, actor=world.approver, reason="   ")

    assert refused.value.code == "reason_required"
    order.refresh_from_db()
    assert order.status == PurchaseOrder.Status.SUBMITTED


@pytest.mark.parametrize(
    ("action", "url", "fields", "message"),
    [
        (
            "return",
            "procurement:purchase_order_return_to_draft",
            {},
            "Enter why the order is going back to draft",
        ),
        (
            "cancel",
            "procurement:purchase_order_cancel",
            {"confirm": "on"},
            "Enter why the order is being cancelled",
        ),
        (
            "cancel",
            "procurement:purchase_order_cancel",
            {"reason": "Not needed"},
            "Tick the box to confirm you want to cancel the order",
        ),
    ],
    ids=["return-no-reason-page", "cancel-no-reason-page", "cancel-unconfirmed-page"],
)
def test_the_page_asks_for_a_reason_and_a_confirmation(world, action, url, fields, message):
    order = raise_order(world, "1000.00")
    client = Client()
    client.force_login(world.approver)

    response = client.post(reverse(url, args=[order.pk]), fields)

    assert response.status_code == 200
    assert message in error_summary(response)
    order.refresh_from_db()
    assert order.status == PurchaseOrder.Status.SUBMITTED


def test_the_page_cancels_with_its_reason_after_confirmation(world):
    order = raise_order(world, "1000.00")
    client = Client()
    client.force_login(world.approver)

    response = client.post(
        reverse("procurement:purchase_order_cancel", args=[order.pk]),
        {"reason": "Bought under the wrong line", "confirm": "on"},
    )

    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == PurchaseOrder.Status.CANCELLED
    assert order.cancellation_reason == "Bought under the wrong line"
    assert order.cancelled_by == world.approver


def test_the_database_refuses_a_cancelled_order_without_a_reason(world):
    order = raise_order(world, "1000.00")

    with pytest.raises(IntegrityError), transaction.atomic():
        PurchaseOrder.objects.filter(pk=order.pk).update(status="cancelled")


# --- a budget line only for a category the envelope funds ---------------------------------


def test_the_admin_adds_no_line_for_a_category_the_envelope_does_not_fund(world):
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(admin)
    before = BudgetLine.objects.count()

    response = client.post(
        reverse("admin:procurement_budgetline_add"),
        {
            "envelope": world.envelope.pk,
            "financial_year": "2026/27",
            "category": "tablet",
            "amount": "1000.00",
        },
        follow=True,
    )

    assert "it has no line for tablet" in response.content.decode()
    assert BudgetLine.objects.count() == before


def test_the_service_adds_no_line_for_a_category_the_envelope_does_not_fund(world):
    with pytest.raises(DomainError) as refused:
        services.budget_line_create(
            envelope=world.envelope,
            financial_year="2026/27",
            category="tablet",
            amount=Decimal("1000.00"),
        )

    assert refused.value.code == "category_not_funded"
    assert not BudgetLine.objects.filter(category="tablet").exists()
