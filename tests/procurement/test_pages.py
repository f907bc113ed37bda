"""The procurement pages: who sees commercial figures, markings, the XLSX export,
unit scope, the order journey through the browser, and query counts on lists."""

import datetime as dt
import io
from decimal import Decimal

import openpyxl
import pytest
from django.urls import reverse
from freezegun import freeze_time

from accounts.roles import Role
from core.exports import OFFICIAL, OFFICIAL_SENSITIVE_COMMERCIAL
from devices.models import Device
from procurement import services
from procurement.models import PurchaseOrder
from tests.factories import BusinessUnitFactory, UserFactory
from tests.procurement.conftest import approve_on, award

pytestmark = pytest.mark.usefixtures("thresholds", "authorities")


@pytest.fixture
def approved_order(make_order, commercial_officer):
    order = make_order("12345.67")
    approve_on(order, commercial_officer, dt.date(2025, 6, 2))
    return order


def _login(client, role, **kwargs):
    user = UserFactory(role=role, **kwargs)
    client.force_login(user)
    return user


def test_finance_dashboard_shows_figures_marked_commercial(client, approved_order):
    _login(client, Role.FINANCE)

    response = client.get(reverse("procurement:dashboard"))

    assert response.status_code == 200
    body = response.content.decode()
    assert OFFICIAL_SENSITIVE_COMMERCIAL in body
    assert "12,345.67" in body  # committed on the laptop line
    assert "Demand not yet ordered" in body and "Headroom" in body
    assert 'id="burn-down-chart"' in body and 'data-test="burn-down-table"' in body


@freeze_time("2025-06-15 12:00:00")
def test_dashboard_shows_the_refresh_forecast_cost_of_each_line(
    client, approved_order, refresh_estate
):
    # Four laptops due 2025/26 at the £1,000 planning price (refresh's real forecast).
    _login(client, Role.FINANCE)

    response = client.get(reverse("procurement:dashboard"))

    row = next(r for r in response.context["position"]["rows"] if r["category"] == "laptop")
    assert row["forecast_cost"] == Decimal("4000.00")
    # One laptop is already on the approved order: three are still to buy (£3,000),
    # and that is what the headroom takes off.
    assert (row["ordered_volume"], row["outstanding_volume"]) == (1, 3)
    assert row["outstanding_cost"] == Decimal("3000.00")
    assert row["headroom"] == Decimal("1000000.00") - Decimal("12345.67") - Decimal("3000.00")
    body = response.content.decode()
    assert "£3,000.00" in body and "3 of 4 devices" in body


@freeze_time("2025-06-15 12:00:00")
def test_scenario_page_fragment_compares_the_scenario_with_the_envelope(
    client, laptop_line, refresh_estate
):
    from refresh import services as refresh_services

    finance = _login(client, Role.FINANCE)
    scenario = refresh_services.scenario_save(
        name="Cheaper laptops", overrides={"unit_prices": {"laptop": "800"}}, actor=finance
    )

    page = client.get(reverse("refresh:scenario_compare", args=[scenario.pk]))
    fragment_url = reverse("procurement:scenario_envelope", args=[scenario.pk])
    assert f'hx-get="{fragment_url}"' in page.content.decode()

    fragment = client.get(fragment_url, headers={"HX-Request": "true"})
    body = fragment.content.decode()
    assert fragment.status_code == 200 and "<html" not in body
    assert "£4,000" in body and "£3,200" in body and "Headroom gained" in body

    full_page = client.get(fragment_url)
    assert OFFICIAL_SENSITIVE_COMMERCIAL in full_page.content.decode()


def test_scenario_envelope_comparison_is_refused_to_non_commercial_roles(client, laptop_line):
    from refresh.models import Scenario

    user = _login(client, Role.ASSET_MANAGER)
    scenario = Scenario.objects.create(name="S", overrides={}, created_by=user)

    response = client.get(reverse("procurement:scenario_envelope", args=[scenario.pk]))

    assert response.status_code == 403


def test_asset_manager_dashboard_shows_volumes_and_no_money(client, approved_order):
    _login(client, Role.ASSET_MANAGER)

    response = client.get(reverse("procurement:dashboard"))

    body = response.content.decode()
    assert response.status_code == 200
    assert response.context["classification"] == OFFICIAL
    assert "12,345.67" not in body and "£" not in body.split("<main")[1]
    assert 'data-test="volume-table"' in body


def test_unit_viewer_cannot_open_the_finance_dashboard(client):
    _login(client, Role.UNIT_VIEWER, units=[BusinessUnitFactory()])

    assert client.get(reverse("procurement:dashboard")).status_code == 403


def test_xlsx_export_is_marked_and_carries_the_figures(client, approved_order):
    _login(client, Role.FINANCE)

    response = client.get(reverse("procurement:dashboard_export"))

    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = book.active
    assert sheet["A1"].value == f"Classification: {OFFICIAL_SENSITIVE_COMMERCIAL}"
    assert OFFICIAL_SENSITIVE_COMMERCIAL in sheet.oddHeader.center.text
    assert OFFICIAL_SENSITIVE_COMMERCIAL in sheet.oddFooter.center.text
    values = [c.value for row in sheet.iter_rows() for c in row]
    assert 12345.67 in values


@pytest.mark.parametrize("role", [Role.ASSET_MANAGER, Role.UNIT_VIEWER])
def test_xlsx_export_refused_to_roles_without_commercial_access(client, role):
    _login(client, role)

    assert client.get(reverse("procurement:dashboard_export")).status_code == 403


def test_order_detail_hides_prices_from_asset_managers(client, approved_order):
    _login(client, Role.ASSET_MANAGER)

    response = client.get(reverse("procurement:purchase_order_detail", args=[approved_order.pk]))

    body = response.content.decode()
    assert response.status_code == 200
    assert "12,345.67" not in body and "Unit price" not in body


def test_order_outside_the_users_scope_is_a_404(client, approved_order):
    _login(client, Role.FINANCE, units=[BusinessUnitFactory()])

    response = client.get(reverse("procurement:purchase_order_detail", args=[approved_order.pk]))

    assert response.status_code == 404


def test_contract_values_hidden_from_asset_managers(client, call_off):
    _login(client, Role.ASSET_MANAGER)

    body = client.get(reverse("procurement:contract_list")).content.decode()

    assert call_off.reference in body
    assert "20,000,000" not in body


# Approved at a door (no back-dating): on a day when the 2025/26 line is open.
@freeze_time("2025-06-02 12:00:00")
def test_order_journey_through_the_pages(client, laptop_line, supplier, unit, laptop_model):
    # Given a finance officer raises an order through the formset
    raiser = _login(client, Role.FINANCE)
    response = client.post(
        reverse("procurement:purchase_order_create"),
        {
            "budget_line": laptop_line.pk,
            "supplier": supplier.pk,
            "business_unit": unit.pk,
            "lines-TOTAL_FORMS": "2",
            "lines-INITIAL_FORMS": "0",
            "lines-0-device_model": laptop_model.pk,
            "lines-0-quantity": "2",
            "lines-0-unit_price": "500.00",
            "lines-0-vat_percent": "20",
        },
    )
    order = PurchaseOrder.objects.get()
    assert response.status_code == 302
    assert order.gross_total == Decimal("1200.00") and order.raised_by == raiser
    client.post(reverse("procurement:purchase_order_submit", args=[order.pk]))

    # When a commercial officer approves it and marks it ordered
    _login(client, Role.COMMERCIAL)
    client.post(reverse("procurement:purchase_order_approve", args=[order.pk]), {"confirm": "on"})
    client.post(reverse("procurement:purchase_order_ordered", args=[order.pk]))

    # And an asset manager receives both devices from a pasted list
    _login(client, Role.ASSET_MANAGER)
    response = client.post(
        reverse("procurement:purchase_order_receive", args=[order.pk]),
        {"line": order.lines.get().pk, "serials": "PG-1\nPG-2\n"},
    )

    # Then the order is received and the devices are in stock
    assert response.status_code == 302
    assert PurchaseOrder.objects.get(pk=order.pk).status == PurchaseOrder.Status.RECEIVED
    assert set(Device.objects.values_list("serial_number", flat=True)) == {"PG-1", "PG-2"}


def test_over_receipt_through_the_page_is_refused_with_a_clear_error(
    client, approved_order, commercial_officer
):
    services.purchase_order_mark_ordered(purchase_order=approved_order, actor=commercial_officer)
    _login(client, Role.ASSET_MANAGER)

    response = client.post(
        reverse("procurement:purchase_order_receive", args=[approved_order.pk]),
        {"line": approved_order.lines.get().pk, "serials": "X1\nX2\n"},
    )

    assert response.status_code == 200
    assert "1 more than ordered" in response.content.decode()
    assert not Device.objects.exists()


def test_budget_transfer_form_refused_for_commercial_officer(client, laptop_line, envelope):
    other = services.budget_line_create(
        envelope=envelope, financial_year="2025/26", category="monitor", amount=Decimal("10")
    )
    _login(client, Role.COMMERCIAL)

    response = client.post(
        reverse("procurement:budget_lines"),
        {"from_line": laptop_line.pk, "to_line": other.pk, "amount": "5", "reason": "x"},
    )

    assert response.status_code == 200
    assert "Only the envelope owner" in response.content.decode()
    assert laptop_line.__class__.objects.get(pk=other.pk).amount == Decimal("10")


@pytest.mark.parametrize(
    "url_name", ["procurement:purchase_order_list", "procurement:contract_list"]
)
def test_list_pages_run_a_constant_number_of_queries(
    client, django_assert_num_queries, make_order, call_off, url_name
):
    _login(client, Role.FINANCE)
    make_order("10.00", contract=call_off)
    # Warm up: session, user, groups (roles), unit scope, then the list query.
    client.get(reverse(url_name))

    def count():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse(url_name)).status_code == 200
        return len(ctx.captured_queries)

    few = count()
    for _ in range(5):
        make_order("10.00", contract=call_off)
    # Queries: session, user, groups, unit scope, the list (one query with its
    # joins and the quantity aggregate), navigation; the same for 1 or 6 orders.
    with django_assert_num_queries(few):
        client.get(reverse(url_name))


def test_contract_form_refuses_a_new_contract_over_the_25m_authority(client, envelope, supplier):
    _login(client, Role.COMMERCIAL)

    response = client.post(
        reverse("procurement:contract_create"),
        {
            "supplier": supplier.pk,
            "reference": "NC-9",
            "title": "Too big",
            "route": "new_contract",
            "value_ceiling": "25000000.01",
            "start_date": "2025-04-01",
            "end_date": "2027-03-31",
        },
    )

    assert response.status_code == 200
    assert "£0.01 over the £25,000,000.00 limit" in response.content.decode()


def test_contract_form_is_for_commercial_officers_only(client, envelope):
    _login(client, Role.FINANCE)

    assert client.get(reverse("procurement:contract_create")).status_code == 403


def test_finance_officer_moves_money_between_lines_through_the_page(client, laptop_line, envelope):
    other = services.budget_line_create(
        envelope=envelope, financial_year="2025/26", category="monitor", amount=Decimal("10")
    )
    _login(client, Role.FINANCE)

    response = client.post(
        reverse("procurement:budget_lines"),
        {"from_line": laptop_line.pk, "to_line": other.pk, "amount": "5", "reason": "Monitors"},
    )

    assert response.status_code == 302
    assert laptop_line.__class__.objects.get(pk=other.pk).amount == Decimal("15")


def test_receipt_from_an_uploaded_csv(client, approved_order, commercial_officer):
    from django.core.files.uploadedfile import SimpleUploadedFile

    services.purchase_order_mark_ordered(purchase_order=approved_order, actor=commercial_officer)
    _login(client, Role.ASSET_MANAGER)
    upload = SimpleUploadedFile("serials.csv", b"serial_number\nCSV-1\n", content_type="text/csv")

    response = client.post(
        reverse("procurement:purchase_order_receive", args=[approved_order.pk]),
        {"line": approved_order.lines.get().pk, "upload": upload},
    )

    assert response.status_code == 302
    device = Device.objects.get(serial_number="CSV-1")
    assert device.procurement_receipt.line.purchase_order_id == approved_order.pk


def test_receipt_upload_of_another_file_type_is_refused(client, approved_order, commercial_officer):
    from django.core.files.uploadedfile import SimpleUploadedFile

    services.purchase_order_mark_ordered(purchase_order=approved_order, actor=commercial_officer)
    _login(client, Role.ASSET_MANAGER)

    response = client.post(
        reverse("procurement:purchase_order_receive", args=[approved_order.pk]),
        {
            "line": approved_order.lines.get().pk,
            "upload": SimpleUploadedFile("serials.xlsx", b"PK.."),
        },
    )

    assert response.status_code == 200
    assert "The file must be a .csv or .txt file" in response.content.decode()
    assert not Device.objects.exists()


def test_admin_lists_every_procurement_model(client, approved_order, call_off, django_user_model):
    from django.apps import apps

    admin_user = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin_user)

    for model in apps.get_app_config("procurement").get_models():
        if model._meta.model_name.startswith("historical"):
            continue
        url = reverse(f"admin:procurement_{model._meta.model_name}_changelist")
        assert client.get(url).status_code == 200, url
    detail = reverse("admin:procurement_purchaseorder_change", args=[approved_order.pk])
    assert client.get(detail).status_code == 200


def test_receipt_on_a_future_date_is_refused(approved_order, commercial_officer, asset_manager):
    from core.errors import DomainError

    services.purchase_order_mark_ordered(purchase_order=approved_order, actor=commercial_officer)

    with pytest.raises(DomainError, match="future date"):
        services.purchase_order_receive(
            line=approved_order.lines.get(),
            serial_numbers=["F1"],
            received_by=asset_manager,
            received_on=services.london_today() + dt.timedelta(days=1),
        )


# Approved at a door (no back-dating): on a day when the 2025/26 line is open.
@freeze_time("2025-06-02 12:00:00")
def test_refused_approval_on_the_page_says_by_how_much(client, make_order, laptop_line):
    # Given a submitted order £0.01 over the whole £1m line, with its approvals recorded
    order = make_order("1000000.01")
    from procurement.models import Contract

    contract = services.contract_create(
        envelope=laptop_line.envelope,
        supplier=order.supplier,
        reference="NC-PAGE",
        title="New",
        route=Contract.Route.NEW_CONTRACT,
        value_ceiling=Decimal("2000000"),
        start_date=services.london_today() - dt.timedelta(days=30),
        end_date=services.london_today() + dt.timedelta(days=300),
    )
    award(contract)
    PurchaseOrder.objects.filter(pk=order.pk).update(contract=contract)
    _login(client, Role.COMMERCIAL)
    # Recorded by another commercial officer: a recorder may not approve the order.
    recorder = UserFactory(role=Role.COMMERCIAL)
    for kind in ("compliant_route", "dmpc"):
        services.approval_record_add(
            purchase_order=order, kind=kind, reference="R-1", recorded_by=recorder
        )

    # When the commercial officer approves it on the page
    response = client.post(
        reverse("procurement:purchase_order_approve", args=[order.pk]),
        {"confirm": "on"},
        follow=True,
    )

    # Then the page says by how much and nothing is committed
    assert "would exceed the 2025/26 laptop line by £0.01" in response.content.decode()
    assert PurchaseOrder.objects.get(pk=order.pk).status == PurchaseOrder.Status.SUBMITTED


def test_dashboard_for_a_scoped_finance_officer_counts_only_their_units(
    client, make_order, commercial_officer
):
    # Given an approved order for another unit
    order = make_order("777.77")
    approve_on(order, commercial_officer, dt.date(2025, 6, 2))
    # When a finance officer scoped to a different unit opens the dashboard
    _login(client, Role.FINANCE, units=[BusinessUnitFactory()])

    position = client.get(reverse("procurement:dashboard")).context["position"]

    # Then the order's commitment is not in their figures
    assert position["committed"] == 0


def test_submitted_order_returned_to_draft_and_its_lines_changed_on_the_pages(
    client, make_order, laptop_model
):
    order = make_order("100.00")
    _login(client, Role.FINANCE)

    client.post(
        reverse("procurement:purchase_order_return_to_draft", args=[order.pk]),
        {"reason": "Three laptops, not one"},
    )
    page = client.get(reverse("procurement:purchase_order_edit", args=[order.pk]))
    response = client.post(
        reverse("procurement:purchase_order_edit", args=[order.pk]),
        {
            "lines-TOTAL_FORMS": "1",
            "lines-INITIAL_FORMS": "1",
            "lines-0-device_model": laptop_model.pk,
            "lines-0-quantity": "3",
            "lines-0-unit_price": "10.00",
            "lines-0-vat_percent": "20",
        },
    )

    assert page.status_code == 200 and 'value="100.00"' in page.content.decode()
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == PurchaseOrder.Status.DRAFT
    assert order.gross_total == Decimal("36.00")
