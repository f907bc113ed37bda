"""The disposal status machine and its gates, through the services."""

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import DomainError
from devices.models import Device, DeviceEvent
from disposals import services
from disposals.models import (
    CASE_TRANSITIONS,
    DisposalCase,
    Route,
    RouteDecision,
    SanitisationRecord,
)
from tests.disposals.conftest import wipe

pytestmark = pytest.mark.django_db


def test_opening_cases_books_returned_devices_for_sanitisation(returned_devices, asset_manager):
    devices = returned_devices(3)

    cases = services.disposal_cases_open(device_ids=[d.pk for d in devices], actor=asset_manager)

    assert [c.status for c in cases] == [DisposalCase.Status.AWAITING_SANITISATION] * 3
    statuses = set(
        Device.objects.filter(pk__in=[d.pk for d in devices]).values_list("status", flat=True)
    )
    assert statuses == {Device.Status.AWAITING_SANITISATION}
    events = DeviceEvent.objects.filter(device__in=devices, kind=DeviceEvent.Kind.DISPOSAL)
    assert events.count() == 3
    assert {e.details["step"] for e in events} == {"case_opened"}
    assert {e.recorded_by for e in events} == {asset_manager}


def test_opening_refuses_a_deployed_device_and_writes_nothing(returned_devices, asset_manager):
    good = returned_devices(1)[0]
    in_stock = returned_devices(1, status=Device.Status.IN_STOCK)[0]

    with pytest.raises(DomainError, match="Only returned devices"):
        services.disposal_cases_open(device_ids=[good.pk, in_stock.pk], actor=asset_manager)

    assert DisposalCase.objects.count() == 0
    good.refresh_from_db()
    assert good.status == Device.Status.RETURNED


def test_opening_twice_is_refused(returned_devices, flow):
    device = returned_devices(1)[0]
    flow.opened([device])

    with pytest.raises(DomainError, match="Already in disposal"):
        flow.opened([device])


def test_passing_sanitisation_moves_case_and_device_to_sanitised(returned_devices, flow):
    device = returned_devices(1)[0]

    flow.sanitised([device])

    device.refresh_from_db()
    assert device.status == Device.Status.SANITISED
    assert device.disposal_case.status == DisposalCase.Status.SANITISED
    event = DeviceEvent.objects.get(device=device, kind=DeviceEvent.Kind.SANITISATION)
    assert event.details["result"] == "pass"
    assert event.details["operator"] == "Tech A" and event.details["verifier"] == "Tech B"


def test_failed_sanitisation_routes_device_to_destruction(returned_devices, flow):
    device = returned_devices(1)[0]

    flow.sanitised([device], result="fail")

    case = DisposalCase.objects.get(device=device)
    assert case.status == DisposalCase.Status.ROUTE_CHOSEN
    assert case.route == Route.DESTRUCTION
    decision = case.route_decision
    assert decision.suggested_route == decision.route == Route.DESTRUCTION
    assert "failed" in decision.suggestion_reason
    device.refresh_from_db()
    # The device stays awaiting sanitisation until it is destroyed.
    assert device.status == Device.Status.AWAITING_SANITISATION


def test_verifier_must_differ_from_operator_in_the_service(returned_devices, flow):
    device = returned_devices(1)[0]
    flow.opened([device])

    results = services.sanitisation_records_record(
        items=[wipe(device, operator="Jo Bloggs", verifier=" jo bloggs ")], actor=flow.actor
    )

    assert results[0].ok is False
    assert "verifier" in results[0].errors
    assert SanitisationRecord.objects.count() == 0
    assert (
        DisposalCase.objects.get(device=device).status == DisposalCase.Status.AWAITING_SANITISATION
    )


def test_verifier_must_differ_from_operator_in_the_database(returned_devices, flow):
    device = returned_devices(1)[0]
    case = flow.opened([device])[0]
    now = timezone.now()

    with pytest.raises(IntegrityError), transaction.atomic():
        SanitisationRecord.objects.create(
            case=case,
            method="overwrite",
            standard="HMG IS5",
            tool="DBAN",
            operator="Jo Bloggs",
            verifier="JO BLOGGS",
            performed_at=now,
            result="pass",
            certificate_ref="X1",
            recorded_at=now,
        )


def test_bulk_result_keeps_good_items_and_names_bad_ones(returned_devices, flow):
    good, bad = returned_devices(2)
    flow.opened([good, bad])

    results = services.sanitisation_records_record(
        items=[wipe(good), wipe(bad, method="magic")], actor=flow.actor
    )

    assert [r.ok for r in results] == [True, False]
    assert "method" in results[1].errors
    assert SanitisationRecord.objects.filter(case__device=good).exists()


def test_bulk_result_all_or_nothing_writes_nothing_on_one_bad_item(returned_devices, flow):
    good, bad = returned_devices(2)
    flow.opened([good, bad])

    results = services.sanitisation_records_record(
        items=[wipe(good), wipe(bad, verifier="Tech A")], actor=flow.actor, all_or_nothing=True
    )

    assert [r.ok for r in results] == [True, False]
    assert SanitisationRecord.objects.count() == 0
    good.refresh_from_db()
    assert good.status == Device.Status.AWAITING_SANITISATION


def test_a_second_result_for_the_same_device_is_refused(returned_devices, flow):
    device = returned_devices(1)[0]
    flow.sanitised([device])

    results = services.sanitisation_records_record(items=[wipe(device)], actor=flow.actor)

    assert results[0].ok is False
    assert SanitisationRecord.objects.count() == 1


def test_recording_a_result_for_a_returned_device_opens_its_case(returned_devices, flow):
    device = returned_devices(1)[0]

    results = services.sanitisation_records_record(items=[wipe(device)], actor=flow.actor)

    assert results[0].ok
    assert DisposalCase.objects.get(device=device).status == DisposalCase.Status.SANITISED


def test_no_assessment_without_a_passing_sanitisation(returned_devices, flow):
    waiting = returned_devices(1)[0]
    case = flow.opened([waiting])[0]

    with pytest.raises(DomainError, match="not sanitised|without a passing"):
        services.assessments_record(case_ids=[case.pk], grade="A", actor=flow.actor)


def test_no_assessment_after_a_failed_sanitisation(returned_devices, flow):
    device = returned_devices(1)[0]
    case = flow.sanitised([device], result="fail")[0]

    with pytest.raises(DomainError):
        services.assessments_record(case_ids=[case.pk], grade="A", actor=flow.actor)


def test_no_route_without_a_passing_sanitisation_even_if_status_was_forced(returned_devices, flow):
    # Given a case pushed to "value assessed" behind the services' back (no record)
    device = returned_devices(1)[0]
    case = flow.opened([device])[0]
    DisposalCase.objects.filter(pk=case.pk).update(status=DisposalCase.Status.VALUE_ASSESSED)

    # When a route is chosen, then the gate refuses it
    with pytest.raises(DomainError, match="without a passing sanitisation"):
        services.routes_decide(case_ids=[case.pk], actor=flow.actor)
    assert not RouteDecision.objects.exists()


def test_route_row_needs_a_sanitisation_unless_destruction_in_the_database(returned_devices, flow):
    device = returned_devices(1)[0]
    case = flow.opened([device])[0]

    with pytest.raises(IntegrityError), transaction.atomic():
        RouteDecision.objects.create(
            case=case,
            suggested_route=Route.RESALE,
            suggestion_reason="x",
            route=Route.RESALE,
            decided_at=timezone.now(),
        )


def test_no_dispatch_without_a_consignment(returned_devices, flow):
    device = returned_devices(1)[0]
    case = flow.routed([device])[0]

    # The only way to dispatched is through a consignment; the machine refuses the jump.
    assert DisposalCase.Status.DISPATCHED not in CASE_TRANSITIONS[DisposalCase.Status.ROUTE_CHOSEN]
    with pytest.raises(DomainError, match="cannot move"):
        services.case_transition(case=case, to_status=DisposalCase.Status.DISPATCHED)
    # And the database refuses a dispatched case with no consignment.
    with pytest.raises(IntegrityError), transaction.atomic():
        DisposalCase.objects.filter(pk=case.pk).update(status=DisposalCase.Status.DISPATCHED)


def test_every_status_in_the_machine_is_a_case_status():
    assert set(CASE_TRANSITIONS) == set(DisposalCase.Status.values)
    for targets in CASE_TRANSITIONS.values():
        assert targets <= set(DisposalCase.Status.values)


def test_disposal_records_cannot_be_deleted(returned_devices, flow):
    device = returned_devices(1)[0]
    case = flow.sanitised([device])[0]
    record = SanitisationRecord.objects.get(case=case)

    with pytest.raises(DomainError, match="never deleted"):
        case.delete()
    with pytest.raises(DomainError, match="never deleted"):
        record.delete()
    with pytest.raises(DomainError, match="never deleted"):
        DisposalCase.objects.all().delete()
    with pytest.raises(DomainError, match="never deleted"):
        SanitisationRecord.objects.filter(pk=record.pk).delete()
    assert DisposalCase.objects.filter(pk=case.pk).exists()
    assert SanitisationRecord.objects.filter(pk=record.pk).exists()


def test_a_case_moved_by_someone_else_meanwhile_refuses_the_whole_batch(returned_devices, flow):
    # Given two cases, one of which another user has already moved on
    a, b = flow.opened(returned_devices(2))
    DisposalCase.objects.filter(pk=b.pk).update(status=DisposalCase.Status.SANITISED)

    # When a batch expecting both to await sanitisation moves them, then nothing moves
    with pytest.raises(DomainError, match="changed while you were working"), transaction.atomic():
        services.cases_transition(
            case_ids=[a.pk, b.pk],
            from_status=DisposalCase.Status.AWAITING_SANITISATION,
            to_status=DisposalCase.Status.SANITISED,
            now=timezone.now(),
        )
    a.refresh_from_db()
    assert a.status == DisposalCase.Status.AWAITING_SANITISATION


def test_device_moves_leave_history_rows(returned_devices, flow):
    device = returned_devices(1)[0]

    flow.sanitised([device])

    statuses = list(device.history.order_by("history_date").values_list("status", flat=True))
    assert statuses[-2:] == [Device.Status.AWAITING_SANITISATION, Device.Status.SANITISED]
    assert device.history.latest().history_user == flow.actor
