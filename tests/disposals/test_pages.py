"""The disposal pages: board and bulk actions, consignments, custody, summary."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.admin.sites import site
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time

from accounts.roles import Role
from core.exports import OFFICIAL, OFFICIAL_SENSITIVE_COMMERCIAL
from core.financial_year import FinancialYear
from devices.models import Device, DeviceEvent
from disposals import services
from disposals.models import (
    Consignment,
    DisposalCase,
    Partner,
    ResidualValueAssessment,
    Route,
    SanitisationRecord,
)
from tests.disposals.conftest import old_laptop
from tests.disposals.files import pdf_bytes
from tests.factories import BusinessUnitFactory, DeviceEventFactory

pytestmark = pytest.mark.django_db

PDF = pdf_bytes()


def board(client, queue, **params):
    return client.get(reverse("disposals:board"), {"queue": queue, **params})


def performed(when: dt.datetime) -> dict:
    """The sanitisation form's date input (day, month, year) and its time box."""
    return {
        "performed_on_day": when.day,
        "performed_on_month": when.month,
        "performed_on_year": when.year,
        "performed_time": when.strftime("%H:%M"),
    }


def test_board_is_for_asset_managers(client, make_user):
    client.force_login(make_user(Role.UNIT_VIEWER, units=[BusinessUnitFactory()]))

    assert board(client, "returned").status_code == 403


def test_finance_landing_on_the_board_is_sent_to_the_summary(client, finance_officer):
    client.force_login(finance_officer)

    response = board(client, "returned")

    assert response.status_code == 302
    assert response.url == reverse("disposals:summary")


def test_board_counts_each_queue(client, asset_manager, flow, returned_devices):
    returned_devices(2)
    flow.opened(returned_devices(3))
    flow.sanitised(returned_devices(1))
    client.force_login(asset_manager)

    response = board(client, "returned")

    counts = {t["key"]: t["count"] for t in response.context["tabs"]}
    assert counts["returned"] == 2
    assert counts["awaiting_sanitisation"] == 3
    assert counts["sanitised"] == 1
    assert len(response.context["rows"]) == 2


@pytest.mark.parametrize("queue", ["returned", "awaiting_sanitisation", "route_chosen"])
def test_board_query_count_does_not_grow_with_rows(
    client, asset_manager, flow, returned_devices, django_assert_num_queries, queue
):
    def fill(n):
        devices = returned_devices(n)
        if queue == "awaiting_sanitisation":
            flow.opened(devices)
        elif queue == "route_chosen":
            flow.routed(devices, grade="C")

    client.force_login(asset_manager)
    fill(2)
    board(client, queue)  # warm the session and content types
    # Queries: session, user, groups (roles), scope rows, grouped case counts,
    # returned-without-case count, the queue's rows with their joins (returned: the
    # page's ids, then those rows); on route_chosen also the open consignments for
    # "add to consignment"; on awaiting_sanitisation the devices in that status
    # grouped by their case's step (the reconciliation with the dashboard).
    with django_assert_num_queries(_board_queries(queue)):
        first = board(client, queue)
    fill(3)
    with django_assert_num_queries(_board_queries(queue)):
        second = board(client, queue)
    assert len(second.context["rows"]) == len(first.context["rows"]) + 3


def _board_queries(queue):
    return (
        7 + (queue == "route_chosen") + (queue == "returned") + (queue == "awaiting_sanitisation")
    )


def test_bulk_open_cases_for_selected_returned_devices(client, asset_manager, returned_devices):
    devices = returned_devices(3)
    client.force_login(asset_manager)

    response = client.post(
        reverse("disposals:board_bulk"),
        {"action": "open", "queue": "returned", "selected": [d.pk for d in devices[:2]]},
    )

    assert response.status_code == 302
    assert DisposalCase.objects.count() == 2
    assert Device.objects.get(pk=devices[2].pk).status == Device.Status.RETURNED


def test_bulk_sanitisation_records_each_selected_device(
    client, asset_manager, flow, returned_devices
):
    devices = returned_devices(3)
    cases = flow.opened(devices)
    client.force_login(asset_manager)

    response = client.post(
        reverse("disposals:board_bulk"),
        {
            "action": "sanitise",
            "queue": "awaiting_sanitisation",
            "selected": [c.pk for c in cases],
            "method": "overwrite",
            "standard": "HMG IS5 Enhanced",
            "tool": "Blancco Drive Eraser",
            "tool_version": "7.9",
            "operator": "A. Tech",
            "verifier": "B. Checker",
            **performed(timezone.localtime() - dt.timedelta(hours=2)),
            "result": "pass",
            "certificate_ref": "BATCH-77",
        },
    )

    assert response.status_code == 302, response.context and response.context["errors"]
    records = SanitisationRecord.objects.filter(case__in=cases)
    assert records.count() == 3
    assert {r.certificate_ref for r in records} == {f"BATCH-77/{d}" for d in devices}


def test_bulk_sanitisation_with_same_operator_and_verifier_is_refused(
    client, asset_manager, flow, returned_devices
):
    cases = flow.opened(returned_devices(1))
    client.force_login(asset_manager)

    response = client.post(
        reverse("disposals:board_bulk"),
        {
            "action": "sanitise",
            "queue": "awaiting_sanitisation",
            "selected": [cases[0].pk],
            "method": "overwrite",
            "standard": "HMG IS5",
            "tool": "DBAN",
            "operator": "Sam",
            "verifier": "sam",
            **performed(dt.datetime(2024, 1, 1, 10, 0)),
            "result": "pass",
            "certificate_ref": "R1",
        },
    )

    assert response.status_code == 400
    assert "different person" in response.content.decode()
    assert not SanitisationRecord.objects.exists()


def test_bulk_assess_then_accept_suggested_route(client, asset_manager, flow):
    device = old_laptop(price="1000.00", years=2)
    case = flow.sanitised([device])[0]
    client.force_login(asset_manager)

    client.post(
        reverse("disposals:board_bulk"),
        {"action": "assess", "queue": "sanitised", "selected": [case.pk], f"grade_{case.pk}": "A"},
    )
    client.post(
        reverse("disposals:board_bulk"),
        {"action": "accept_route", "queue": "value_assessed", "selected": [case.pk]},
    )

    case.refresh_from_db()
    assert case.status == DisposalCase.Status.ROUTE_CHOSEN
    assert case.route == Route.RESALE


def test_bulk_override_without_reason_shows_error(client, asset_manager, flow):
    case = flow.assessed([old_laptop()], grade="A")[0]
    client.force_login(asset_manager)

    response = client.post(
        reverse("disposals:board_bulk"),
        {
            "action": "override_route",
            "queue": "value_assessed",
            "selected": [case.pk],
            "route": "recycling",
            "override_reason": "",
        },
    )

    assert response.status_code == 400
    case.refresh_from_db()
    assert case.status == DisposalCase.Status.VALUE_ASSESSED


def test_bulk_action_ignores_cases_outside_scope(client, make_user, flow, returned_devices):
    mine, theirs = BusinessUnitFactory(), BusinessUnitFactory()
    other_case = flow.opened(returned_devices(1, business_unit=theirs))[0]
    client.force_login(make_user(Role.ASSET_MANAGER, units=[mine]))

    response = client.post(
        reverse("disposals:board_bulk"),
        {"action": "assess", "queue": "sanitised", "selected": [other_case.pk], "grade": "A"},
    )

    assert response.status_code == 400
    assert not ResidualValueAssessment.objects.exists()


def test_estimated_values_hidden_from_non_commercial_roles(client, make_user, flow):
    flow.assessed([old_laptop(price="1000.00", years=2)], grade="A")
    asset_only = make_user(Role.ASSET_MANAGER)
    both = make_user(Role.ASSET_MANAGER)
    both.groups.add(*make_user(Role.FINANCE).groups.all())

    client.force_login(asset_only)
    page = board(client, "value_assessed")
    assert page.context["classification"] == OFFICIAL
    assert 'data-test="value"' not in page.content.decode()

    client.force_login(both)
    page = board(client, "value_assessed")
    assert page.context["classification"] == OFFICIAL_SENSITIVE_COMMERCIAL
    assert "£405.00" in page.content.decode()


def _closed_consignment(flow, devices, route=Route.RECYCLING, grade="C", proceeds=None, when=None):
    kind = {Route.RESALE: Partner.Kind.RESELLER, Route.REUSE: Partner.Kind.DIGITAL_INCLUSION}.get(
        route, Partner.Kind.WEEE_RECYCLER
    )
    cases = flow.routed(devices, grade=grade)
    c = services.consignment_create(route=route, partner=flow.partner(kind), actor=flow.actor)
    services.consignment_add_cases(consignment=c, case_ids=[x.pk for x in cases], actor=flow.actor)
    services.consignment_dispatch(
        consignment=c,
        dispatch_date=timezone.localdate(),
        collected_by="Van 1",
        transfer_note_ref="WTN-1",
        actor=flow.actor,
    )
    services.consignment_certificate_upload(
        consignment=c, upload=SimpleUploadedFile("c.pdf", PDF), actor=flow.actor
    )
    services.consignment_close(consignment=c, actor=flow.actor, proceeds=proceeds)
    return c


def test_consignment_pages_list_and_detail(
    client, finance_officer, flow, returned_devices, django_assert_num_queries
):
    c1 = _closed_consignment(flow, returned_devices(2))
    client.force_login(finance_officer)
    client.get(reverse("disposals:consignment_list"))
    # Queries: session, user, groups, scope rows, consignments with partner and device counts.
    with django_assert_num_queries(5):
        first = client.get(reverse("disposals:consignment_list"))
    _closed_consignment(flow, returned_devices(3))
    with django_assert_num_queries(5):
        second = client.get(reverse("disposals:consignment_list"))
    assert len(second.context["consignments"]) == len(first.context["consignments"]) + 1

    detail = client.get(reverse("disposals:consignment_detail", args=[c1.pk]))
    assert detail.status_code == 200
    assert len(detail.context["cases"]) == 2


def test_consignment_walkthrough_through_the_pages(client, asset_manager, flow, returned_devices):
    cases = flow.routed(returned_devices(2), grade="C")
    client.force_login(asset_manager)
    partner = flow.partner()

    response = client.post(
        reverse("disposals:consignment_create"), {"route": "recycling", "partner": partner.pk}
    )
    consignment = Consignment.objects.get()
    assert response.status_code == 302
    client.post(
        reverse("disposals:board_bulk"),
        {
            "action": "consign",
            "queue": "route_chosen",
            "selected": [c.pk for c in cases],
            "consignment": consignment.pk,
        },
    )
    client.post(
        reverse("disposals:consignment_dispatch", args=[consignment.pk]),
        {
            "dispatch_date": timezone.localdate().isoformat(),
            "collected_by": "GreenCycle van",
            "transfer_note_ref": "WTN-42",
        },
    )
    bad = client.post(
        reverse("disposals:consignment_certificate", args=[consignment.pk]),
        {
            "certificate": SimpleUploadedFile(
                "cert.pdf", b"<html>not a pdf</html>", "application/pdf"
            )
        },
    )
    assert bad.status_code == 400
    assert "PDF, PNG or JPEG" in bad.content.decode()
    client.post(
        reverse("disposals:consignment_certificate", args=[consignment.pk]),
        {"certificate": SimpleUploadedFile("cert.pdf", PDF, "application/pdf")},
    )
    client.post(reverse("disposals:consignment_close", args=[consignment.pk]), {})

    consignment.refresh_from_db()
    assert consignment.status == Consignment.Status.CLOSED
    assert set(Device.objects.filter(disposal_case__in=cases).values_list("status", flat=True)) == {
        Device.Status.DISPOSED
    }


def test_too_large_certificate_is_refused_on_the_page(
    client, asset_manager, flow, returned_devices, settings
):
    settings.DISPOSALS_CERTIFICATE_MAX_BYTES = 100
    cases = flow.routed(returned_devices(1), grade="C")
    c = services.consignment_create(route=Route.RECYCLING, partner=flow.partner(), actor=flow.actor)
    services.consignment_add_cases(consignment=c, case_ids=[cases[0].pk], actor=flow.actor)
    services.consignment_dispatch(
        consignment=c,
        dispatch_date=timezone.localdate(),
        collected_by="Van",
        transfer_note_ref="W1",
        actor=flow.actor,
    )
    client.force_login(asset_manager)

    response = client.post(
        reverse("disposals:consignment_certificate", args=[c.pk]),
        {"certificate": SimpleUploadedFile("c.pdf", PDF + b"x" * 200, "application/pdf")},
    )

    assert response.status_code == 400
    assert "the limit is" in response.content.decode()
    c.refresh_from_db()
    assert not c.certificate


def test_custody_chain_is_complete_and_ordered_as_html_and_pdf(
    client, asset_manager, flow, returned_devices
):
    device = returned_devices(1)[0]
    _closed_consignment(flow, [device])
    client.force_login(asset_manager)

    page = client.get(reverse("disposals:device_custody", args=[device.pk]))
    pdf = client.get(reverse("disposals:device_custody_pdf", args=[device.pk]))

    steps = [
        e.details.get("step") for e in page.context["events"] if e.kind != DeviceEvent.Kind.NOTE
    ]
    assert steps == [
        "case_opened",
        "sanitisation",
        "value_assessed",
        "route_chosen",
        "consigned",
        "dispatched",
        "disposed",
    ]
    times = [(e.occurred_at, e.pk) for e in page.context["events"]]
    assert times == sorted(times)
    assert page.context["classification"] == OFFICIAL
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")


def test_consignment_pdf_is_generated(client, asset_manager, flow, returned_devices):
    c = _closed_consignment(flow, returned_devices(2))
    client.force_login(asset_manager)

    response = client.get(reverse("disposals:consignment_custody_pdf", args=[c.pk]))

    assert response.content.startswith(b"%PDF")


def test_another_units_device_custody_is_404(client, make_user, flow, returned_devices):
    mine, theirs = BusinessUnitFactory(), BusinessUnitFactory()
    device = returned_devices(1, business_unit=theirs)[0]
    flow.sanitised([device])
    client.force_login(make_user(Role.UNIT_VIEWER, units=[mine]))

    assert client.get(reverse("disposals:device_custody", args=[device.pk])).status_code == 404
    assert client.get(reverse("disposals:device_custody_pdf", args=[device.pk])).status_code == 404


def test_another_units_consignment_is_404(client, make_user, flow, returned_devices):
    mine, theirs = BusinessUnitFactory(), BusinessUnitFactory()
    c = _closed_consignment(flow, returned_devices(1, business_unit=theirs))
    client.force_login(make_user(Role.FINANCE, units=[mine]))

    assert client.get(reverse("disposals:consignment_detail", args=[c.pk])).status_code == 404


def test_fy_summary_counts_by_route_and_income(client, make_user, flow, returned_devices):
    # Given disposals in FY 2025/26 (one on 31 March 2026 at 23:30 BST... i.e. still 2025/26)
    with freeze_time("2025-06-01 10:00:00"):
        _closed_consignment(flow, returned_devices(2), route=Route.RECYCLING, grade="C")
        _closed_consignment(
            flow,
            [old_laptop(price="1000.00", years=1)],
            route=Route.RESALE,
            grade="A",
            proceeds=Decimal("250.00"),
        )
    with freeze_time("2026-03-31 22:30:00"):  # 23:30 BST on 31 March: still 2025/26
        _closed_consignment(
            flow,
            [old_laptop(price="1200.00", years=1)],
            route=Route.RESALE,
            grade="A",
            proceeds=Decimal("300.10"),
        )
    with freeze_time("2026-03-31 23:30:00"):  # 00:30 BST on 1 April: 2026/27
        _closed_consignment(flow, returned_devices(1), route=Route.RECYCLING, grade="C")
    finance = make_user(Role.FINANCE)
    client.force_login(finance)

    page = client.get(reverse("disposals:summary"), {"fy": "2025/26"})

    assert page.context["fy"] == FinancialYear(2025)
    laptops = next(r for r in page.context["rows"] if r["category"] == "laptop")
    assert laptops["by_route"] == [2, 0, 2, 0]  # resold, reused, recycled, destroyed
    assert page.context["resale_income"] == Decimal("550.10")
    assert page.context["classification"] == OFFICIAL_SENSITIVE_COMMERCIAL
    csv = client.get(reverse("disposals:summary"), {"fy": "2025/26", "format": "csv"})
    text = csv.content.decode("utf-8-sig")
    assert text.startswith(f"Classification: {OFFICIAL_SENSITIVE_COMMERCIAL}")
    assert "550.10" in text


def test_fy_summary_hides_income_from_non_commercial_roles(client, asset_manager, flow):
    _closed_consignment(
        flow,
        [old_laptop(price="1000.00", years=1)],
        route=Route.RESALE,
        grade="A",
        proceeds=Decimal("250.00"),
    )
    client.force_login(asset_manager)

    page = client.get(reverse("disposals:summary"))
    csv = client.get(reverse("disposals:summary"), {"format": "csv"})

    assert page.context["resale_income"] is None
    assert page.context["classification"] == OFFICIAL
    assert "250.00" not in page.content.decode()
    assert csv.content.decode("utf-8-sig").startswith("Classification: OFFICIAL\r\n")
    assert "250.00" not in csv.content.decode("utf-8-sig")


def test_summary_selector_query_count_is_constant(
    flow, returned_devices, finance_officer, django_assert_num_queries
):
    from disposals.selectors import disposal_summary

    fy = FinancialYear(2025)
    _closed_consignment(flow, returned_devices(1))
    finance_officer._cached_roles = {Role.FINANCE}
    # Queries: scope rows, grouped counts, proceeds sum.
    with django_assert_num_queries(3):
        disposal_summary(user=finance_officer, fy=fy, commercial=True)
    _closed_consignment(flow, returned_devices(3))
    finance_officer._cached_unit_scope = None
    with django_assert_num_queries(3):
        disposal_summary(user=finance_officer, fy=fy, commercial=True)


def test_admin_offers_no_delete_and_no_edit_of_records(admin_user):
    request = RequestFactory().get("/")
    request.user = admin_user
    for model in (DisposalCase, SanitisationRecord, ResidualValueAssessment, Consignment):
        model_admin = site._registry[model]
        assert model_admin.has_delete_permission(request) is False
        assert model_admin.has_change_permission(request) is False
        assert model_admin.has_add_permission(request) is False
        assert "delete_selected" not in model_admin.get_actions(request)
    assert site._registry[Partner].has_delete_permission(request) is False


def test_admin_route_action_goes_through_the_sanitisation_gate(
    admin_client, flow, returned_devices
):
    # Given a case pushed to "value assessed" with no sanitisation record behind it
    case = flow.opened(returned_devices(1))[0]
    DisposalCase.objects.filter(pk=case.pk).update(status=DisposalCase.Status.VALUE_ASSESSED)

    # When the admin action is used, then the service refuses it
    response = admin_client.post(
        reverse("admin:disposals_disposalcase_changelist"),
        {"action": "accept_suggested_route", "_selected_action": [case.pk]},
        follow=True,
    )

    assert "without a passing sanitisation" in response.content.decode()
    case.refresh_from_db()
    assert case.status == DisposalCase.Status.VALUE_ASSESSED
    assert case.route == ""


def test_consignment_detail_and_custody_query_counts_do_not_grow(
    client, asset_manager, flow, returned_devices, django_assert_num_queries
):
    small = _closed_consignment(flow, returned_devices(2))
    large = _closed_consignment(flow, returned_devices(5))
    client.force_login(asset_manager)
    client.get(reverse("disposals:consignment_detail", args=[small.pk]))
    # Queries: session, user, groups, scope rows, the consignment with its partner and
    # count, its cases with devices and assessments, their sanitisation records (prefetch).
    with django_assert_num_queries(7):
        client.get(reverse("disposals:consignment_detail", args=[small.pk]))
    with django_assert_num_queries(7):
        response = client.get(reverse("disposals:consignment_detail", args=[large.pk]))
    assert len(response.context["cases"]) == 5

    # Custody: session, user, groups, scope rows, device, events with their recorders,
    # case with assessment and decision, sanitisation records, consignment.
    # The second device carries six more events than the first.
    devices = list(Device.objects.filter(disposal_case__consignment__in=[small, large]))
    DeviceEventFactory.create_batch(6, device=devices[-1])
    client.get(reverse("disposals:device_custody", args=[devices[0].pk]))
    with django_assert_num_queries(9):
        first = client.get(reverse("disposals:device_custody", args=[devices[0].pk]))
    with django_assert_num_queries(9):
        second = client.get(reverse("disposals:device_custody", args=[devices[-1].pk]))
    assert len(second.context["events"]) == len(first.context["events"]) + 6


def test_open_all_returned_devices_in_scope_at_once(client, make_user, returned_devices):
    mine, theirs = BusinessUnitFactory(), BusinessUnitFactory()
    returned_devices(3, business_unit=mine)
    other = returned_devices(1, business_unit=theirs)[0]
    client.force_login(make_user(Role.ASSET_MANAGER, units=[mine]))

    response = client.post(
        reverse("disposals:board_bulk"), {"action": "open_all", "queue": "returned"}
    )

    assert response.status_code == 302
    assert DisposalCase.objects.filter(device__business_unit=mine).count() == 3
    assert not DisposalCase.objects.filter(device=other).exists()


def test_board_pages_through_a_long_queue(client, asset_manager, returned_devices, monkeypatch):
    from disposals.views import common

    devices = returned_devices(5)
    client.force_login(asset_manager)
    monkeypatch.setattr(common, "BOARD_PAGE_SIZE", 2)

    pages = [board(client, "returned", page=n).context for n in (1, 2, 3)]

    shown = [d.pk for ctx in pages for d in ctx["rows"]]
    assert shown == [d.pk for d in devices]
    assert "page=2" in pages[0]["next_url"] and pages[2]["next_url"] is None
