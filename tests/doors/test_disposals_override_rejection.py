"""Disposals rules 2 (the API door) and 3 at every door that reaches them.

Rule 2 (finance sign-off) through the API: a finance or commercial officer other than
the requester signs off an override of a suggested resale
(``POST /api/v1/disposals/devices/{id}/route/sign-off/``); the requester is refused
(``same_person``), other roles get 403, a device outside the caller's units 404.

Rule 3 (finance rejection): that officer may instead reject the request, with a
reason; the device keeps its suggested route (resale) and the rejection is kept like
a sign-off (append-only, one decision per request). The same people are refused (the
requester, other roles, out of scope) and a rejection without a reason is refused.
Doors: service, page POST, API, admin (read-only: no rejection is added or changed
there), raw SQL (PostgreSQL triggers of disposals migrations 0003 and 0004).

Each refusal asserts that nothing was written.
"""

import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from accounts.roles import Role
from core.errors import DomainError
from devices.models import DeviceEvent
from disposals import services
from disposals.models import DisposalCase, Route, RouteDecision, RouteOverrideSignOff
from tests.disposals.conftest import (  # noqa: F401
    flow,
    override,
    returned_devices,
    rule,
    sign_off_snapshot,
)
from tests.factories import BusinessUnitFactory

pytestmark = pytest.mark.django_db


def _raw(sql, params):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


# ---------------------------------------------------------------------------
# Rule 2 through the API: sign-off
# ---------------------------------------------------------------------------


def _api(user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client


def _route_url(device, action=""):
    return f"/api/v1/disposals/devices/{device.pk}/route/" + (f"{action}/" if action else "")


API_SIGN_OFF_REFUSALS = {
    "requester": (400, "same_person", lambda ctx, make_user: ctx.requester),
    "asset-manager": (403, None, lambda ctx, make_user: ctx.flow.actor),
    "integration": (403, None, lambda ctx, make_user: make_user(Role.INTEGRATION)),
    "finance-out-of-scope": (
        404,
        None,
        lambda ctx, make_user: make_user(Role.FINANCE, units=[BusinessUnitFactory()]),
    ),
}


@pytest.mark.parametrize(
    "who", list(API_SIGN_OFF_REFUSALS), ids=[f"rule2-api-{w}" for w in API_SIGN_OFF_REFUSALS]
)
def test_rule2_sign_off_refused_api(override, make_user, who):  # noqa: F811
    status, code, user = API_SIGN_OFF_REFUSALS[who]
    before = sign_off_snapshot(override)

    response = _api(user(override, make_user)).post(_route_url(override.device, "sign-off"))

    assert response.status_code == status, response.content
    if code:
        assert response.json()["error"]["code"] == code
    assert sign_off_snapshot(override) == before


def test_rule2_sign_off_api_moves_the_case_on_and_shows_who(override, make_user):  # noqa: F811
    approver = make_user(Role.FINANCE)

    response = _api(approver).post(_route_url(override.device, "sign-off"))

    assert response.status_code == 200, response.content
    decision = response.json()["route_decision"]
    assert decision["route"] == Route.REUSE
    assert decision["override"]["status"] == "signed_off"
    assert decision["override"]["requested_by"] == override.requester.username
    assert decision["override"]["review"]["decided_by"] == approver.username
    assert DisposalCase.objects.get(pk=override.case.pk).status == "route_chosen"


# ---------------------------------------------------------------------------
# Rule 3: a finance or commercial officer may reject the override instead
# ---------------------------------------------------------------------------

REASON = "Worth more sold; pledge a lower-value laptop instead."


def _reject_snapshot(ctx):
    return (
        *sign_off_snapshot(ctx),
        list(RouteOverrideSignOff.objects.values_list("outcome", "reason")),
    )


REJECT_REFUSALS = {
    "requester": ("same_person", REASON, lambda ctx, make_user: ctx.requester),
    "asset-manager": ("role_not_allowed", REASON, lambda ctx, make_user: ctx.flow.actor),
    "unit-viewer": (
        "role_not_allowed",
        REASON,
        lambda ctx, make_user: make_user(Role.UNIT_VIEWER, units=[ctx.device.business_unit]),
    ),
    "finance-out-of-scope": (
        "out_of_scope",
        REASON,
        lambda ctx, make_user: make_user(Role.FINANCE, units=[BusinessUnitFactory()]),
    ),
    "no-reason": ("reason_required", "   ", lambda ctx, make_user: make_user(Role.FINANCE)),
}


@pytest.mark.parametrize(
    "who", list(REJECT_REFUSALS), ids=[f"rule3-service-{w}" for w in REJECT_REFUSALS]
)
def test_rule3_rejection_refused_service(override, make_user, who):  # noqa: F811
    code, reason, approver = REJECT_REFUSALS[who]
    approver = approver(override, make_user)
    before = _reject_snapshot(override)

    with pytest.raises(DomainError) as refused:
        services.route_override_reject(case=override.case, approver=approver, reason=reason)

    assert refused.value.code == code
    assert _reject_snapshot(override) == before


def test_rule3_rejected_override_keeps_the_suggested_route_and_is_recorded(override, make_user):  # noqa: F811
    approver = make_user(Role.COMMERCIAL)

    review = services.route_override_reject(
        case=override.case, approver=approver, reason=f"  {REASON}  "
    )

    assert (review.outcome, review.reason, review.signed_off_by, review.signed_off_as) == (
        "rejected",
        REASON,
        approver,
        "commercial",
    )
    case = DisposalCase.objects.get(pk=override.case.pk)
    assert (case.status, case.route) == ("route_chosen", Route.RESALE)
    decision = RouteDecision.objects.select_related("sign_off").get(case=case)
    assert decision.override_rejected and not decision.awaiting_sign_off
    assert decision.final_route == Route.RESALE
    event = DeviceEvent.objects.filter(device=override.device).latest("id")
    assert event.details["step"] == "override_rejected"
    assert event.details["rejection_reason"] == REASON
    assert event.recorded_by == approver
    # Decided once: neither a second rejection nor a sign-off follows.
    with pytest.raises(DomainError) as again:
        services.route_override_sign_off(case=override.case, approver=make_user(Role.FINANCE))
    assert again.value.code == "wrong_step"


PAGE_REJECT_REFUSALS = {
    "requester": (lambda ctx: ctx.requester, REASON, "another finance or commercial officer"),
    "asset-manager": (lambda ctx: ctx.flow.actor, REASON, "Only a finance or commercial officer"),
    "no-reason": (None, "", "Enter the reason for rejecting"),
}


@pytest.mark.parametrize(
    "who", list(PAGE_REJECT_REFUSALS), ids=[f"rule3-page-{w}" for w in PAGE_REJECT_REFUSALS]
)
def test_rule3_rejection_refused_page(client, override, make_user, who):  # noqa: F811
    user, reason, message = PAGE_REJECT_REFUSALS[who]
    before = _reject_snapshot(override)
    client.force_login(user(override) if user else make_user(Role.FINANCE))

    response = client.post(
        reverse("disposals:route_sign_offs"),
        {"action": "reject", "selected": [override.case.pk], "reason": reason},
    )

    assert response.status_code == 400
    body = response.content.decode()
    assert message in body
    assert 'class="govuk-error-summary"' in body
    assert _reject_snapshot(override) == before


def test_rule3_finance_rejects_on_the_page_and_the_custody_record_says_so(
    client,
    override,  # noqa: F811
    make_user,
):
    finance = make_user(Role.FINANCE)
    client.force_login(finance)

    response = client.post(
        reverse("disposals:route_sign_offs"),
        {"action": "reject", "selected": [override.case.pk], "reason": REASON},
    )

    assert response.status_code == 302
    case = DisposalCase.objects.get(pk=override.case.pk)
    assert (case.status, case.route) == ("route_chosen", Route.RESALE)
    client.force_login(override.flow.actor)
    custody = client.get(
        reverse("disposals:device_custody", args=[override.device.pk])
    ).content.decode()
    assert "Rejected" in custody and REASON in custody and finance.username in custody
    assert override.requester.username in custody  # who asked for the override


API_REJECT_REFUSALS = {
    "requester": (400, "same_person", REASON, lambda ctx, make_user: ctx.requester),
    "no-reason": (400, "invalid", "", lambda ctx, make_user: make_user(Role.FINANCE)),
    "blank-reason": (400, "invalid", "   ", lambda ctx, make_user: make_user(Role.FINANCE)),
    "asset-manager": (403, None, REASON, lambda ctx, make_user: ctx.flow.actor),
    "unit-viewer": (
        403,
        None,
        REASON,
        lambda ctx, make_user: make_user(Role.UNIT_VIEWER, units=[ctx.device.business_unit]),
    ),
    "finance-out-of-scope": (
        404,
        None,
        REASON,
        lambda ctx, make_user: make_user(Role.FINANCE, units=[BusinessUnitFactory()]),
    ),
}


@pytest.mark.parametrize(
    "who", list(API_REJECT_REFUSALS), ids=[f"rule3-api-{w}" for w in API_REJECT_REFUSALS]
)
def test_rule3_rejection_refused_api(override, make_user, who):  # noqa: F811
    status, code, reason, user = API_REJECT_REFUSALS[who]
    before = _reject_snapshot(override)

    response = _api(user(override, make_user)).post(
        _route_url(override.device, "reject"), {"reason": reason}, format="json"
    )

    assert response.status_code == status, response.content
    if code:
        assert response.json()["error"]["code"] == code
    if code == "invalid":
        assert "reason" in response.json()["error"]["fields"]
    if status == 404:
        # Out of scope: nothing about the device is told.
        assert override.device.asset_tag not in response.content.decode()
    assert _reject_snapshot(override) == before


def test_rule3_rejection_api_answers_the_route_with_who_and_why(override, make_user):  # noqa: F811
    approver = make_user(Role.FINANCE)

    response = _api(approver).post(
        _route_url(override.device, "reject"), {"reason": REASON}, format="json"
    )

    assert response.status_code == 200, response.content
    decision = response.json()["route_decision"]
    assert decision["route"] == Route.RESALE
    assert decision["suggested_route"] == Route.RESALE
    override_body = decision["override"]
    assert (override_body["status"], override_body["requested_route"]) == ("rejected", "reuse")
    assert override_body["requested_by"] == override.requester.username
    assert override_body["review"] == {
        "outcome": "rejected",
        "decided_by": approver.username,
        "decided_as": "finance",
        "decided_at": override_body["review"]["decided_at"],
        "reason": REASON,
    }
    custody = _api(override.flow.actor).get(
        f"/api/v1/disposals/devices/{override.device.pk}/custody/"
    )
    assert custody.json()["route_decision"]["override"]["review"]["reason"] == REASON


def test_rule3_admin_cannot_add_or_change_a_rejection(admin_client, override, make_user):  # noqa: F811
    review = services.route_override_sign_off(case=override.case, approver=make_user(Role.FINANCE))
    before = _reject_snapshot(override)

    added = admin_client.post(
        reverse("admin:disposals_routeoverridesignoff_add"),
        {"decision": review.decision_id, "outcome": "rejected", "reason": "no"},
    )
    changed = admin_client.post(
        reverse("admin:disposals_routeoverridesignoff_change", args=[review.pk]),
        {"outcome": "rejected", "reason": "Changed my mind"},
    )

    assert (added.status_code, changed.status_code) == (403, 403)
    assert _reject_snapshot(override) == before


@pytest.mark.postgres
def test_rule3_rejection_by_the_requester_refused_sql(override):  # noqa: F811
    decision = RouteDecision.objects.get(case=override.case)
    before = _reject_snapshot(override)

    with pytest.raises(IntegrityError):
        _raw(
            "INSERT INTO disposals_routeoverridesignoff "
            "(decision_id, outcome, reason, signed_off_at, signed_off_by_id, signed_off_as) "
            "VALUES (%s, 'rejected', 'no', now(), %s, 'finance')",
            [decision.pk, override.requester.pk],
        )

    assert _reject_snapshot(override) == before


@pytest.mark.postgres
def test_rule3_rejection_without_a_reason_refused_sql(override, make_user):  # noqa: F811
    decision = RouteDecision.objects.get(case=override.case)
    before = _reject_snapshot(override)

    with pytest.raises(IntegrityError, match="rejection_has_reason"):
        _raw(
            "INSERT INTO disposals_routeoverridesignoff "
            "(decision_id, outcome, reason, signed_off_at, signed_off_by_id, signed_off_as) "
            "VALUES (%s, 'rejected', '', now(), %s, 'finance')",
            [decision.pk, make_user(Role.FINANCE).pk],
        )

    assert _reject_snapshot(override) == before


@pytest.mark.postgres
def test_rule3_rejected_case_cannot_take_the_requested_route_sql(override, make_user):  # noqa: F811
    decision = RouteDecision.objects.get(case=override.case)
    _raw(
        "INSERT INTO disposals_routeoverridesignoff "
        "(decision_id, outcome, reason, signed_off_at, signed_off_by_id, signed_off_as) "
        "VALUES (%s, 'rejected', 'Keep it for resale', now(), %s, 'finance')",
        [decision.pk, make_user(Role.FINANCE).pk],
    )
    before = _reject_snapshot(override)

    # Rejected: the case may go on only on its suggested route (resale), not reuse.
    with pytest.raises(IntegrityError, match="awaits finance sign-off"):
        _raw(
            "UPDATE disposals_disposalcase SET status = 'route_chosen', route = 'reuse' "
            "WHERE id = %s",
            [override.case.pk],
        )
    assert _reject_snapshot(override) == before
    _raw(
        "UPDATE disposals_disposalcase SET status = 'route_chosen', route = 'resale' WHERE id = %s",
        [override.case.pk],
    )
    assert DisposalCase.objects.get(pk=override.case.pk).route == Route.RESALE


@pytest.mark.postgres
def test_rule3_a_rejection_cannot_be_turned_into_a_sign_off_sql(override, make_user):  # noqa: F811
    services.route_override_reject(
        case=override.case, approver=make_user(Role.FINANCE), reason=REASON
    )
    before = _reject_snapshot(override)

    with pytest.raises(IntegrityError, match="append-only"):
        _raw(
            "UPDATE disposals_routeoverridesignoff SET outcome = 'signed_off', reason = '' "
            "WHERE decision_id = (SELECT id FROM disposals_routedecision WHERE case_id = %s)",
            [override.case.pk],
        )

    assert _reject_snapshot(override) == before
