"""Residual value by the documented rule, and the suggested route."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from core.errors import DomainError
from devices.models import DeviceEvent
from disposals import services
from disposals.models import DisposalCase, Grade, ResidualValueAssessment, Route, RouteDecision
from tests.disposals.conftest import old_laptop

pytestmark = pytest.mark.django_db


def test_estimate_follows_the_documented_rule(rule):
    # 1000 x 50% base x (1 - 10%)^2 years (= 0.81) x grade multiplier
    today = dt.date(2026, 1, 1)
    bought = today - dt.timedelta(days=round(365.25 * 2))
    expected = {
        Grade.A: Decimal("405.00"),
        Grade.B: Decimal("202.50"),
        Grade.C: Decimal("101.25"),
        Grade.SCRAP: Decimal("0.00"),
    }
    for grade, value in expected.items():
        estimate, age = services.residual_value_estimate(
            rule=rule,
            category="laptop",
            unit_price=Decimal("1000.00"),
            purchase_date=bought,
            grade=grade,
            on_date=today,
        )
        assert (grade, estimate, age) == (grade, value, Decimal("2.00"))


def test_estimate_below_the_floor_counts_as_nil_and_unknowns_give_nil(rule):
    today = dt.date(2026, 1, 1)
    # 9.98 x 50% = 4.99 < floor 5.00
    tiny, _ = services.residual_value_estimate(
        rule=rule,
        category="laptop",
        unit_price=Decimal("9.98"),
        purchase_date=today,
        grade="A",
        on_date=today,
    )
    assert tiny == Decimal("0.00")
    no_price, age = services.residual_value_estimate(
        rule=rule, category="laptop", unit_price=None, purchase_date=today, grade="A", on_date=today
    )
    assert (no_price, age) == (Decimal("0.00"), None)
    # 20 x 50% x 0.9^12 (= 0.2824) = 2.82 after 12 years: under the floor.
    ancient, _ = services.residual_value_estimate(
        rule=rule,
        category="laptop",
        unit_price=Decimal("20"),
        purchase_date=dt.date(2014, 1, 1),
        grade="A",
        on_date=today,
    )
    assert ancient == Decimal("0.00")


@pytest.mark.parametrize(
    ("value", "grade", "expected"),
    [
        (Decimal("99.99"), "A", Route.REUSE),  # just below the threshold
        (Decimal("100.00"), "A", Route.RESALE),  # at the threshold
        (Decimal("100.01"), "A", Route.RESALE),  # above
        (Decimal("99.99"), "B", Route.REUSE),
        (Decimal("99.99"), "C", Route.RECYCLING),
        (Decimal("0.00"), "scrap", Route.RECYCLING),
        (Decimal("500.00"), "C", Route.RESALE),
    ],
)
def test_route_suggestion_at_the_threshold_and_for_each_grade(value, grade, expected):
    route, reason = services.route_suggest(
        estimated_value=value, grade=grade, threshold=Decimal("100.00")
    )
    assert route == expected
    assert reason
    assert "£" not in reason  # reasons are OFFICIAL: no commercial figures


def test_policy_destruction_beats_value():
    route, reason = services.route_suggest(
        estimated_value=Decimal("900"), grade="A", threshold=Decimal("100"), policy_destruction=True
    )
    assert route == Route.DESTRUCTION
    assert "policy" in reason


@pytest.mark.parametrize(
    ("price", "expected"),
    [("199.98", Route.REUSE), ("200.00", Route.RESALE), ("200.02", Route.RESALE)],
)
def test_accepted_suggestion_end_to_end_at_the_threshold(flow, price, expected):
    # A new laptop (age 0): value = price x 50%, against a threshold of 100.00.
    device = old_laptop(price=price, years=0)

    case = flow.routed([device], grade="A")[0]

    case.refresh_from_db()
    assessment = ResidualValueAssessment.objects.get(case=case)
    assert assessment.estimated_value == (Decimal(price) / 2).quantize(Decimal("0.01"))
    assert case.route == expected
    assert case.status == DisposalCase.Status.ROUTE_CHOSEN
    assert assessment.assessed_by == flow.actor


def test_override_needs_a_reason(flow):
    device = old_laptop(price="1000.00", years=2)
    case = flow.assessed([device], grade="A")[0]

    with pytest.raises(DomainError, match="give a reason"):
        services.routes_decide(case_ids=[case.pk], actor=flow.actor, route=Route.REUSE)

    assert not RouteDecision.objects.exists()
    case.refresh_from_db()
    assert case.status == DisposalCase.Status.VALUE_ASSESSED


def test_override_with_a_reason_is_recorded_with_who_when_and_both_routes(flow):
    device = old_laptop(price="1000.00", years=2)
    case = flow.assessed([device], grade="A")[0]

    services.routes_decide(
        case_ids=[case.pk],
        actor=flow.actor,
        route=Route.REUSE,
        override_reason="Pledged to LOTI laptop drive",
    )

    decision = RouteDecision.objects.get(case=case)
    assert (decision.suggested_route, decision.route) == (Route.RESALE, Route.REUSE)
    assert decision.override_reason == "Pledged to LOTI laptop drive"
    assert decision.decided_by == flow.actor and decision.decided_at <= timezone.now()
    # Overriding a suggested resale is a request until finance signs it off.
    event = DeviceEvent.objects.filter(
        device=device, details__step="route_override_requested"
    ).get()
    assert event.details["override_reason"] == "Pledged to LOTI laptop drive"
    assert event.details["suggested_route"] == Route.RESALE
    assert decision.needs_sign_off and decision.awaiting_sign_off
    case.refresh_from_db()
    assert case.status == DisposalCase.Status.VALUE_ASSESSED


def test_assessment_event_carries_no_commercial_value(flow):
    device = old_laptop(price="1000.00", years=2)

    flow.assessed([device], grade="B")

    event = DeviceEvent.objects.get(device=device, details__step="value_assessed")
    assert event.details == {"step": "value_assessed", "grade": "B", "policy_destruction": False}


def test_assessing_twice_is_refused(flow):
    device = old_laptop()
    case = flow.assessed([device])[0]

    with pytest.raises(DomainError, match="Cannot assess"):
        services.assessments_record(case_ids=[case.pk], grade="A", actor=flow.actor)


def test_finance_sets_a_new_rule_from_a_date_and_later_assessments_use_it(client, make_user, flow):
    from django.urls import reverse

    from accounts.roles import Role
    from disposals.models import ResidualValueRule

    finance = make_user(Role.FINANCE)
    client.force_login(finance)
    today = timezone.localdate()
    data = {
        "name": "Tighter threshold",
        "effective_from": today.isoformat(),
        "base_percent_laptop": "50",
        "base_percent_desktop": "30",
        "base_percent_monitor": "25",
        "base_percent_smartphone": "45",
        "base_percent_tablet": "35",
        "depreciation_percent_per_year": "10",
        "multiplier_a": "1.00",
        "multiplier_b": "0.50",
        "multiplier_c": "0.25",
        "multiplier_scrap": "0.00",
        "floor": "5.00",
        "resale_threshold": "1000.00",
    }

    response = client.post(reverse("disposals:value_rule"), data)

    assert response.status_code == 302
    rule = ResidualValueRule.objects.get(name="Tighter threshold")
    assert rule.history.latest().history_user == finance
    # A 1000.00 laptop, new, grade A is worth 500.00: below the new 1000.00 threshold.
    case = flow.routed([old_laptop(price="1000.00", years=0)], grade="A")[0]
    case.refresh_from_db()
    assert case.assessment.rule == rule
    assert case.route == Route.REUSE
    # The same date again is refused with a clear error.
    again = client.post(reverse("disposals:value_rule"), data)
    assert again.status_code == 400
    assert "already starts on" in again.content.decode()


def test_asset_managers_cannot_change_the_value_rule(client, asset_manager):
    from django.urls import reverse

    client.force_login(asset_manager)

    assert client.get(reverse("disposals:value_rule")).status_code == 403
