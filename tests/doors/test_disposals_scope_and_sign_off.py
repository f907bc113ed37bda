"""Disposals rules 1 and 2 at every door that reaches them.

Rule 1 (scope): a user scoped to some business units may act on a consignment only
while every device in it lies in their scope (``out_of_scope``); the refusal names
no other unit's device. Doors: service, page POST, admin (read-only). There is no
consignment API: the disposals API carries sanitisation results and custody only.

Rule 2 (finance sign-off): overriding a suggested resale is a request until a
finance or commercial officer other than the requester signs it off
(``same_person`` / ``role_not_allowed``); until then the case does not move on.
Doors: service, page POST, API, admin action, raw SQL (PostgreSQL).

The API door of rule 2 and rule 3 (the rejection of an override) are in
test_disposals_override_rejection.py.

Each case asserts the refusal and that nothing was written.
"""

from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from core.errors import DomainError
from devices.models import DeviceEvent
from disposals import services
from disposals.models import (
    Consignment,
    DisposalCase,
    Route,
    RouteDecision,
)
from tests.disposals.conftest import (  # noqa: F401
    flow,
    old_laptop,
    override,
    returned_devices,
    rule,
    sign_off_snapshot,
)
from tests.disposals.files import pdf_bytes
from tests.factories import BusinessUnitFactory

pytestmark = pytest.mark.django_db

PDF = pdf_bytes()


def _certificate():
    return SimpleUploadedFile("cert.pdf", PDF, "application/pdf")


# ---------------------------------------------------------------------------
# Rule 1: consignment actions need every device in the actor's scope
# ---------------------------------------------------------------------------


@pytest.fixture
def mixed(flow, returned_devices, make_user):  # noqa: F811
    """A recycling consignment carrying one device of "mine" and one of "theirs",
    a spare routed case of mine, and an asset manager scoped to mine."""
    mine, theirs = BusinessUnitFactory(), BusinessUnitFactory()
    my_device, spare_device = returned_devices(2, business_unit=mine)
    their_device = returned_devices(1, business_unit=theirs)[0]
    mine_case, spare, theirs_case = flow.routed([my_device, spare_device, their_device], grade="C")
    shared = services.consignment_create(
        route=Route.RECYCLING, partner=flow.partner(), actor=flow.actor
    )
    services.consignment_add_cases(
        consignment=shared, case_ids=[mine_case.pk, theirs_case.pk], actor=flow.actor
    )
    return SimpleNamespace(
        flow=flow,
        shared=shared,
        mine_case=mine_case,
        spare=spare,
        their_device=their_device,
        scoped=make_user(Role.ASSET_MANAGER, units=[mine]),
    )


def _to_stage(ctx, stage: str) -> None:
    """Move the shared consignment on as the central (unscoped) asset manager."""
    if stage in ("dispatched", "certified"):
        services.consignment_dispatch(
            consignment=ctx.shared,
            dispatch_date=timezone.localdate(),
            collected_by="GreenCycle van",
            transfer_note_ref="WTN-1",
            actor=ctx.flow.actor,
        )
    if stage == "certified":
        services.consignment_certificate_upload(
            consignment=ctx.shared, upload=_certificate(), actor=ctx.flow.actor
        )


def _snapshot(ctx):
    c = Consignment.objects.get(pk=ctx.shared.pk)
    return (
        c.status,
        c.certificate.name,
        c.dispatch_date,
        sorted(DisposalCase.objects.values_list("pk", "status", "consignment_id")),
        sorted(DisposalCase.objects.values_list("device__pk", "device__status")),
        DeviceEvent.objects.count(),
    )


SERVICE_CALLS = {
    "add": (
        "open",
        lambda ctx: services.consignment_add_cases(
            consignment=ctx.shared, case_ids=[ctx.spare.pk], actor=ctx.scoped
        ),
    ),
    "remove": (
        "open",
        lambda ctx: services.consignment_remove_cases(
            consignment=ctx.shared, case_ids=[ctx.mine_case.pk], actor=ctx.scoped
        ),
    ),
    "dispatch": (
        "open",
        lambda ctx: services.consignment_dispatch(
            consignment=ctx.shared,
            dispatch_date=timezone.localdate(),
            collected_by="GreenCycle van",
            transfer_note_ref="WTN-2",
            actor=ctx.scoped,
        ),
    ),
    "certificate": (
        "dispatched",
        lambda ctx: services.consignment_certificate_upload(
            consignment=ctx.shared, upload=_certificate(), actor=ctx.scoped
        ),
    ),
    "close": (
        "certified",
        lambda ctx: services.consignment_close(consignment=ctx.shared, actor=ctx.scoped),
    ),
}


@pytest.mark.parametrize(
    "action",
    list(SERVICE_CALLS),
    ids=[f"rule1-service-{a}" for a in SERVICE_CALLS],
)
def test_rule1_scoped_user_cannot_act_on_a_consignment_with_other_units_devices_service(
    mixed, action
):
    stage, call = SERVICE_CALLS[action]
    _to_stage(mixed, stage)
    before = _snapshot(mixed)

    with pytest.raises(DomainError) as refused:
        call(mixed)

    assert refused.value.code == "out_of_scope"
    # The refusal names no device of another unit.
    assert mixed.their_device.asset_tag not in refused.value.message
    assert mixed.their_device.serial_number not in refused.value.message
    assert _snapshot(mixed) == before


def _page_post(client, ctx, action):
    pk = ctx.shared.pk
    if action == "add":
        return client.post(
            reverse("disposals:board_bulk"),
            {
                "action": "consign",
                "queue": "route_chosen",
                "selected": [ctx.spare.pk],
                "consignment": pk,
            },
        )
    if action == "dispatch":
        return client.post(
            reverse("disposals:consignment_dispatch", args=[pk]),
            {
                "dispatch_date": timezone.localdate().isoformat(),
                "collected_by": "GreenCycle van",
                "transfer_note_ref": "WTN-3",
            },
        )
    if action == "certificate":
        return client.post(
            reverse("disposals:consignment_certificate", args=[pk]),
            {"certificate": _certificate()},
        )
    return client.post(reverse("disposals:consignment_close", args=[pk]), {})


PAGE_ACTIONS = {
    "add": "open",
    "dispatch": "open",
    "certificate": "dispatched",
    "close": "certified",
}


@pytest.mark.parametrize(
    "action", list(PAGE_ACTIONS), ids=[f"rule1-page-{a}" for a in PAGE_ACTIONS]
)
def test_rule1_scoped_user_cannot_act_on_a_consignment_with_other_units_devices_page(
    client, mixed, action
):
    _to_stage(mixed, PAGE_ACTIONS[action])
    before = _snapshot(mixed)
    client.force_login(mixed.scoped)

    response = _page_post(client, mixed, action)

    assert response.status_code == 400
    body = response.content.decode()
    assert "outside your business units" in body
    assert mixed.their_device.serial_number not in body
    assert _snapshot(mixed) == before


def test_rule1_consignment_page_offers_no_actions_on_other_units_devices(client, mixed):
    client.force_login(mixed.scoped)

    body = client.get(reverse("disposals:consignment_detail", args=[mixed.shared.pk])).content

    assert b'data-test="others-devices"' in body
    assert reverse("disposals:consignment_dispatch", args=[mixed.shared.pk]).encode() not in body


def test_rule1_admin_cannot_change_a_consignment(admin_client, mixed):
    before = _snapshot(mixed)

    response = admin_client.post(
        reverse("admin:disposals_consignment_change", args=[mixed.shared.pk]),
        {"status": "closed", "reference": mixed.shared.reference},
    )

    assert response.status_code == 403
    assert _snapshot(mixed) == before


def test_rule1_scoped_user_acts_on_a_consignment_wholly_in_their_scope(mixed):
    # The other side of the rule: a consignment of only their devices is theirs to run.
    own = services.consignment_create(
        route=Route.RECYCLING, partner=mixed.flow.partner(), actor=mixed.scoped
    )
    services.consignment_add_cases(consignment=own, case_ids=[mixed.spare.pk], actor=mixed.scoped)
    services.consignment_dispatch(
        consignment=own,
        dispatch_date=timezone.localdate(),
        collected_by="GreenCycle van",
        transfer_note_ref="WTN-4",
        actor=mixed.scoped,
    )

    assert Consignment.objects.get(pk=own.pk).status == Consignment.Status.DISPATCHED


def test_rule1_unscoped_user_still_runs_mixed_consignments(mixed):
    services.consignment_dispatch(
        consignment=mixed.shared,
        dispatch_date=timezone.localdate(),
        collected_by="GreenCycle van",
        transfer_note_ref="WTN-5",
        actor=mixed.flow.actor,
    )

    assert Consignment.objects.get(pk=mixed.shared.pk).status == Consignment.Status.DISPATCHED


# ---------------------------------------------------------------------------
# Rule 2: overriding a suggested resale needs a finance or commercial sign-off
# ---------------------------------------------------------------------------


def test_rule2_override_of_suggested_resale_waits_for_sign_off(override):  # noqa: F811
    decision = RouteDecision.objects.get(case=override.case)

    assert (decision.suggested_route, decision.route) == (Route.RESALE, Route.REUSE)
    assert decision.needs_sign_off and decision.awaiting_sign_off
    assert DisposalCase.objects.get(pk=override.case.pk).status == "value_assessed"


SIGN_OFF_REFUSALS = {
    "requester": ("same_person", lambda ctx, make_user: ctx.requester),
    "asset-manager": ("role_not_allowed", lambda ctx, make_user: ctx.flow.actor),
    "unit-viewer": (
        "role_not_allowed",
        lambda ctx, make_user: make_user(Role.UNIT_VIEWER, units=[ctx.device.business_unit]),
    ),
    "finance-out-of-scope": (
        "out_of_scope",
        lambda ctx, make_user: make_user(Role.FINANCE, units=[BusinessUnitFactory()]),
    ),
}


@pytest.mark.parametrize(
    "who", list(SIGN_OFF_REFUSALS), ids=[f"rule2-service-{w}" for w in SIGN_OFF_REFUSALS]
)
def test_rule2_sign_off_refused_service(override, make_user, who):  # noqa: F811
    code, approver = SIGN_OFF_REFUSALS[who]
    approver = approver(override, make_user)
    before = sign_off_snapshot(override)

    with pytest.raises(DomainError) as refused:
        services.route_override_sign_off(case=override.case, approver=approver)

    assert refused.value.code == code
    assert sign_off_snapshot(override) == before


def test_rule2_case_does_not_move_on_until_signed_off_service(override):  # noqa: F811
    before = sign_off_snapshot(override)

    with pytest.raises(DomainError) as again:
        services.routes_decide(case_ids=[override.case.pk], actor=override.flow.actor)
    assert again.value.code == "awaiting_sign_off"
    consignment = services.consignment_create(
        route=Route.REUSE,
        partner=override.flow.partner(kind="digital_inclusion"),
        actor=override.flow.actor,
    )
    with pytest.raises(DomainError) as consign:
        services.consignment_add_cases(
            consignment=consignment, case_ids=[override.case.pk], actor=override.flow.actor
        )
    assert consign.value.code == "wrong_step"
    assert sign_off_snapshot(override) == before


def test_rule2_another_finance_officer_signs_off_and_the_case_moves_on(override, make_user):  # noqa: F811
    approver = make_user(Role.COMMERCIAL)

    sign_off = services.route_override_sign_off(
        decision=RouteDecision.objects.get(case=override.case), approver=approver
    )

    assert (sign_off.signed_off_by, sign_off.signed_off_as) == (approver, "commercial")
    case = DisposalCase.objects.get(pk=override.case.pk)
    assert (case.status, case.route) == ("route_chosen", Route.REUSE)
    assert not RouteDecision.objects.get(case=case).awaiting_sign_off


def test_rule2_overrides_away_from_other_suggestions_keep_the_reason_rule(flow):  # noqa: F811
    device = old_laptop(price="100.00", years=6)  # worth little: suggested reuse at grade A
    case = flow.assessed([device], grade="A")[0]

    services.routes_decide(
        case_ids=[case.pk], actor=flow.actor, route=Route.RECYCLING, override_reason="Damaged"
    )

    decision = RouteDecision.objects.get(case=case)
    assert decision.suggested_route == Route.REUSE and not decision.needs_sign_off
    assert DisposalCase.objects.get(pk=case.pk).status == "route_chosen"


PAGE_SIGN_OFF_REFUSALS = {
    "requester": (lambda ctx: ctx.requester, "another finance or commercial officer"),
    "asset-manager": (lambda ctx: ctx.flow.actor, "Only a finance or commercial officer"),
}


@pytest.mark.parametrize(
    "who",
    list(PAGE_SIGN_OFF_REFUSALS),
    ids=[f"rule2-page-{w}" for w in PAGE_SIGN_OFF_REFUSALS],
)
def test_rule2_sign_off_refused_page(client, override, who):  # noqa: F811
    user, message = PAGE_SIGN_OFF_REFUSALS[who]
    before = sign_off_snapshot(override)
    client.force_login(user(override))

    response = client.post(reverse("disposals:route_sign_offs"), {"selected": [override.case.pk]})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert sign_off_snapshot(override) == before


def test_rule2_accepting_a_route_while_awaiting_sign_off_refused_page(client, override):  # noqa: F811
    before = sign_off_snapshot(override)
    client.force_login(override.flow.actor)

    response = client.post(
        reverse("disposals:board_bulk"),
        {"action": "accept_route", "queue": "value_assessed", "selected": [override.case.pk]},
    )

    assert response.status_code == 400
    assert "awaiting finance sign-off" in response.content.decode()
    assert sign_off_snapshot(override) == before


def test_rule2_pages_show_awaiting_sign_off_and_offer_finance_the_action(
    client,
    override,  # noqa: F811
    make_user,
):
    client.force_login(override.flow.actor)
    board = client.get(reverse("disposals:board"), {"queue": "value_assessed"}).content.decode()
    assert 'data-test="awaiting-sign-off"' in board
    assert "awaiting finance sign-off" in board
    as_asset_manager = client.get(reverse("disposals:route_sign_offs")).content.decode()
    assert 'data-test="sign-off"' not in as_asset_manager

    finance = make_user(Role.FINANCE)
    client.force_login(finance)
    page = client.get(reverse("disposals:route_sign_offs")).content.decode()
    assert 'data-test="sign-off"' in page and str(override.case.pk) in page
    response = client.post(reverse("disposals:route_sign_offs"), {"selected": [override.case.pk]})
    assert response.status_code == 302
    assert DisposalCase.objects.get(pk=override.case.pk).status == "route_chosen"


def test_rule2_sign_off_refused_admin(admin_client, override):  # noqa: F811
    # A superuser is not thereby a finance officer: the admin action calls the service.
    before = sign_off_snapshot(override)

    response = admin_client.post(
        reverse("admin:disposals_disposalcase_changelist"),
        {"action": "sign_off_route_override", "_selected_action": [override.case.pk]},
        follow=True,
    )

    assert "Only a finance or commercial officer" in response.content.decode()
    assert sign_off_snapshot(override) == before


def _raw(sql, params):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.postgres
@pytest.mark.parametrize(
    "who",
    ["requester", "asset-manager"],
    ids=["rule2-sql-sign-off-by-requester", "rule2-sql-sign-off-by-asset-manager"],
)
def test_rule2_sign_off_refused_sql(override, who):  # noqa: F811
    decision = RouteDecision.objects.get(case=override.case)
    user = override.requester if who == "requester" else override.flow.actor
    before = sign_off_snapshot(override)

    with pytest.raises(IntegrityError):
        _raw(
            "INSERT INTO disposals_routeoverridesignoff "
            "(decision_id, signed_off_at, signed_off_by_id, signed_off_as) "
            "VALUES (%s, now(), %s, 'finance')",
            [decision.pk, user.pk],
        )

    assert sign_off_snapshot(override) == before


@pytest.mark.postgres
def test_rule2_case_cannot_be_routed_without_sign_off_sql(override):  # noqa: F811
    before = sign_off_snapshot(override)

    with pytest.raises(IntegrityError, match="awaits finance sign-off"):
        _raw(
            "UPDATE disposals_disposalcase SET status = 'route_chosen', route = 'reuse' "
            "WHERE id = %s",
            [override.case.pk],
        )

    assert sign_off_snapshot(override) == before
