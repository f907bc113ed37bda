"""Scope through the disposal models' own managers: ``visible_to`` and ``within``."""

import pytest
from django.http import Http404

from accounts.roles import Role
from accounts.scoping import unit_scope
from disposals import selectors, services
from disposals.models import (
    Consignment,
    DisposalCase,
    RecordsAreKept,
    ResidualValueAssessment,
    Route,
    RouteDecision,
    SanitisationRecord,
)
from tests.factories import BusinessUnitFactory


@pytest.fixture
def two_units(flow, returned_devices):
    """One recycling consignment carrying a device of each of two units, and an
    empty open consignment."""
    mine, theirs = BusinessUnitFactory(), BusinessUnitFactory()
    my_device = returned_devices(1, business_unit=mine)[0]
    their_device = returned_devices(1, business_unit=theirs)[0]
    cases = flow.routed([my_device, their_device], grade="C")
    shared = services.consignment_create(
        route=Route.RECYCLING, partner=flow.partner(), actor=flow.actor
    )
    services.consignment_add_cases(
        consignment=shared, case_ids=[c.pk for c in cases], actor=flow.actor
    )
    empty = services.consignment_create(
        route=Route.RECYCLING, partner=flow.partner(), actor=flow.actor
    )
    return mine, theirs, shared, empty


def test_records_are_visible_through_their_device_unit(two_units, make_user):
    mine, _, _, _ = two_units
    user = make_user(Role.ASSET_MANAGER, units=[mine])

    for model in (DisposalCase, SanitisationRecord, ResidualValueAssessment, RouteDecision):
        assert model.objects.count() == 2
        visible = list(model.objects.visible_to(user))
        assert len(visible) == 1, model
    case = DisposalCase.objects.visible_to(user).get()
    assert case.device.business_unit == mine


def test_consignment_is_visible_when_any_of_its_cases_is(two_units, make_user):
    mine, theirs, shared, empty = two_units
    scoped = make_user(Role.ASSET_MANAGER, units=[mine])
    elsewhere = make_user(Role.ASSET_MANAGER, units=[BusinessUnitFactory()])
    everyone = make_user(Role.ASSET_MANAGER)

    assert list(Consignment.objects.visible_to(scoped)) == [shared]
    assert list(Consignment.objects.visible_to(elsewhere)) == []
    assert set(Consignment.objects.visible_to(everyone)) == {shared, empty}
    # The same condition, as a Q for use in other queries.
    scope = unit_scope(scoped)
    assert list(Consignment.objects.filter(Consignment.objects.scope_q(scope))) == [shared]
    assert Consignment.objects.within(None).count() == 2


def test_consignment_list_counts_only_the_users_devices(two_units, make_user):
    mine, _, shared, _ = two_units
    scoped = make_user(Role.ASSET_MANAGER, units=[mine])
    everyone = make_user(Role.ASSET_MANAGER)

    assert [(c, c.device_count) for c in selectors.consignment_list(user=scoped)] == [(shared, 1)]
    counts = {c: c.device_count for c in selectors.consignment_list(user=everyone)}
    assert counts[shared] == 2
    with pytest.raises(Http404):
        selectors.consignment_get(
            user=make_user(Role.ASSET_MANAGER, units=[BusinessUnitFactory()]), pk=shared.pk
        )


def test_scoped_querysets_still_refuse_delete(two_units, make_user):
    mine, _, _, _ = two_units
    user = make_user(Role.ASSET_MANAGER, units=[mine])

    with pytest.raises(RecordsAreKept):
        DisposalCase.objects.visible_to(user).delete()
    with pytest.raises(RecordsAreKept):
        Consignment.objects.visible_to(user).delete()
