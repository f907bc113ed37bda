"""Consignments: partners by route, dispatch, the partner's certificate, closing."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from core.errors import DomainError
from devices.models import Device, DeviceEvent
from disposals import services
from disposals.models import Consignment, DisposalCase, Partner, Route
from tests.disposals.files import image_bytes, pdf_bytes

pytestmark = pytest.mark.django_db

PDF = pdf_bytes()
PNG = image_bytes("PNG")


def dispatched(flow, devices, route=Route.RECYCLING, grade="C"):
    cases = flow.routed(devices, grade=grade)
    kind = {
        Route.RESALE: Partner.Kind.RESELLER,
        Route.REUSE: Partner.Kind.DIGITAL_INCLUSION,
    }.get(route, Partner.Kind.WEEE_RECYCLER)
    consignment = services.consignment_create(
        route=route, partner=flow.partner(kind), actor=flow.actor
    )
    services.consignment_add_cases(
        consignment=consignment, case_ids=[c.pk for c in cases], actor=flow.actor
    )
    services.consignment_dispatch(
        consignment=consignment,
        dispatch_date=timezone.localdate(),
        collected_by="R. Driver, GreenCycle",
        transfer_note_ref="WTN-0001",
        actor=flow.actor,
    )
    consignment.refresh_from_db()
    return consignment


def test_partner_must_fit_the_route(flow):
    reseller = flow.partner(Partner.Kind.RESELLER)

    with pytest.raises(DomainError, match="cannot take"):
        services.consignment_create(route=Route.RECYCLING, partner=reseller, actor=flow.actor)


def test_only_cases_on_the_consignment_route_can_be_added(flow, returned_devices):
    cases = flow.routed(returned_devices(1), grade="C")  # recycling
    consignment = services.consignment_create(
        route=Route.REUSE, partner=flow.partner(Partner.Kind.DIGITAL_INCLUSION), actor=flow.actor
    )

    with pytest.raises(DomainError, match="is for"):
        services.consignment_add_cases(
            consignment=consignment, case_ids=[cases[0].pk], actor=flow.actor
        )


def test_unsanitised_case_cannot_be_consigned(flow, returned_devices):
    case = flow.opened(returned_devices(1))[0]
    consignment = services.consignment_create(
        route=Route.RECYCLING, partner=flow.partner(), actor=flow.actor
    )

    with pytest.raises(DomainError, match="Cannot add to a consignment"):
        services.consignment_add_cases(
            consignment=consignment, case_ids=[case.pk], actor=flow.actor
        )


def test_empty_consignment_cannot_be_dispatched(flow):
    consignment = services.consignment_create(
        route=Route.RECYCLING, partner=flow.partner(), actor=flow.actor
    )

    with pytest.raises(DomainError, match="no devices"):
        services.consignment_dispatch(
            consignment=consignment,
            dispatch_date=timezone.localdate(),
            collected_by="X",
            transfer_note_ref="W1",
            actor=flow.actor,
        )


def test_dispatch_needs_collector_and_transfer_note(flow, returned_devices):
    cases = flow.routed(returned_devices(1), grade="C")
    consignment = services.consignment_create(
        route=Route.RECYCLING, partner=flow.partner(), actor=flow.actor
    )
    services.consignment_add_cases(
        consignment=consignment, case_ids=[cases[0].pk], actor=flow.actor
    )

    with pytest.raises(DomainError) as error:
        services.consignment_dispatch(
            consignment=consignment,
            dispatch_date=timezone.localdate(),
            collected_by="X",
            transfer_note_ref=" ",
            actor=flow.actor,
        )
    assert error.value.field == "transfer_note_ref"


def test_certificate_with_a_wrong_content_type_is_refused(flow, returned_devices):
    consignment = dispatched(flow, returned_devices(1))
    # An executable renamed to .pdf and claiming to be a PDF is still refused.
    fake = SimpleUploadedFile(
        "certificate.pdf", b"MZ\x90\x00binary", content_type="application/pdf"
    )

    with pytest.raises(DomainError, match="PDF, PNG or JPEG") as error:
        services.consignment_certificate_upload(
            consignment=consignment, upload=fake, actor=flow.actor
        )

    assert error.value.code == "wrong_type"
    consignment.refresh_from_db()
    assert not consignment.certificate


def test_certificate_too_large_is_refused(flow, returned_devices):
    consignment = dispatched(flow, returned_devices(1))
    big = SimpleUploadedFile("c.pdf", PDF + b"0" * 2048, content_type="application/pdf")

    with pytest.raises(DomainError, match="limit") as error:
        services.consignment_certificate_upload(
            consignment=consignment, upload=big, actor=flow.actor, max_bytes=1024
        )
    assert error.value.code == "too_large"


def test_certificate_checked_by_content_not_name_is_stored(flow, returned_devices, settings):
    consignment = dispatched(flow, returned_devices(1))
    png_named_txt = SimpleUploadedFile("scan.txt", PNG, content_type="text/plain")

    services.consignment_certificate_upload(
        consignment=consignment, upload=png_named_txt, actor=flow.actor
    )

    consignment.refresh_from_db()
    assert consignment.certificate_content_type == "image/png"
    assert consignment.certificate.name.endswith(".png")
    assert consignment.certificate.path.startswith(str(settings.MEDIA_ROOT))


def test_closing_needs_a_certificate(flow, returned_devices):
    consignment = dispatched(flow, returned_devices(1))

    with pytest.raises(DomainError, match="certificate"):
        services.consignment_close(consignment=consignment, actor=flow.actor)


def test_closing_marks_every_device_disposed_with_events(flow, returned_devices):
    devices = returned_devices(3)
    consignment = dispatched(flow, devices)
    services.consignment_certificate_upload(
        consignment=consignment, upload=SimpleUploadedFile("c.pdf", PDF), actor=flow.actor
    )

    services.consignment_close(consignment=consignment, actor=flow.actor)

    consignment.refresh_from_db()
    assert consignment.status == Consignment.Status.CLOSED
    ids = [d.pk for d in devices]
    assert set(Device.objects.filter(pk__in=ids).values_list("status", flat=True)) == {
        Device.Status.DISPOSED
    }
    assert set(DisposalCase.objects.filter(device_id__in=ids).values_list("status", flat=True)) == {
        DisposalCase.Status.DISPOSED
    }
    events = DeviceEvent.objects.filter(device_id__in=ids, kind=DeviceEvent.Kind.DISPOSED)
    assert events.count() == 3
    assert {e.details["consignment"] for e in events} == {consignment.reference}


def test_destroyed_after_failed_wipe_goes_from_awaiting_sanitisation_to_disposed(
    flow, returned_devices
):
    device = returned_devices(1)[0]
    case = flow.sanitised([device], result="fail")[0]
    consignment = services.consignment_create(
        route=Route.DESTRUCTION, partner=flow.partner(), actor=flow.actor
    )
    services.consignment_add_cases(consignment=consignment, case_ids=[case.pk], actor=flow.actor)
    services.consignment_dispatch(
        consignment=consignment,
        dispatch_date=timezone.localdate(),
        collected_by="Shredder Ltd",
        transfer_note_ref="WTN-9",
        actor=flow.actor,
    )
    services.consignment_certificate_upload(
        consignment=consignment, upload=SimpleUploadedFile("d.pdf", PDF), actor=flow.actor
    )

    services.consignment_close(consignment=consignment, actor=flow.actor)

    event = DeviceEvent.objects.get(device=device, kind=DeviceEvent.Kind.DISPOSED)
    assert (event.from_status, event.to_status) == (
        Device.Status.AWAITING_SANITISATION,
        Device.Status.DISPOSED,
    )


def test_resale_close_records_proceeds_and_needs_them(flow):
    from tests.disposals.conftest import old_laptop

    consignment = dispatched(
        flow, [old_laptop(price="1000.00", years=1)], route=Route.RESALE, grade="A"
    )
    services.consignment_certificate_upload(
        consignment=consignment, upload=SimpleUploadedFile("c.pdf", PDF), actor=flow.actor
    )
    with pytest.raises(DomainError, match="proceeds"):
        services.consignment_close(consignment=consignment, actor=flow.actor)

    services.consignment_close(
        consignment=consignment, actor=flow.actor, proceeds=Decimal("312.50")
    )

    consignment.refresh_from_db()
    assert consignment.proceeds == Decimal("312.50")


def test_dispatch_date_cannot_be_in_the_future(flow, returned_devices):
    cases = flow.routed(returned_devices(1), grade="C")
    consignment = services.consignment_create(
        route=Route.RECYCLING, partner=flow.partner(), actor=flow.actor
    )
    services.consignment_add_cases(
        consignment=consignment, case_ids=[cases[0].pk], actor=flow.actor
    )

    with pytest.raises(DomainError, match="future"):
        services.consignment_dispatch(
            consignment=consignment,
            dispatch_date=timezone.localdate() + dt.timedelta(days=2),
            collected_by="X",
            transfer_note_ref="W",
            actor=flow.actor,
        )


def test_consignment_cannot_be_deleted(flow):
    consignment = services.consignment_create(
        route=Route.RECYCLING, partner=flow.partner(), actor=flow.actor
    )

    with pytest.raises(DomainError, match="never deleted"):
        consignment.delete()
    with pytest.raises(DomainError, match="never deleted"):
        Consignment.objects.all().delete()


def test_unapproved_partner_cannot_take_a_consignment(flow):
    partner = flow.partner(Partner.Kind.WEEE_RECYCLER)
    partner.approved = False
    partner.save()

    with pytest.raises(DomainError, match="not an approved partner"):
        services.consignment_create(route=Route.RECYCLING, partner=partner, actor=flow.actor)


def test_policy_destruction_routes_a_valuable_device_to_destruction(flow):
    from tests.disposals.conftest import old_laptop

    case = flow.sanitised([old_laptop(price="1500.00", years=1)])[0]
    services.assessments_record(
        case_ids=[case.pk], grade="A", actor=flow.actor, policy_destruction=True
    )

    services.routes_decide(case_ids=[case.pk], actor=flow.actor)

    case.refresh_from_db()
    assert case.route == Route.DESTRUCTION
    assert case.route_decision.suggestion_reason == "Security policy requires destruction."


def test_recycler_partner_needs_a_licence_number_in_the_database(db):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Partner.objects.create(name="No Licence Ltd", kind=Partner.Kind.WEEE_RECYCLER)
