"""Finance pages people work in (issue 14): the envelope's signals, closed years,
drill-down and whole-pound headlines; the order page's approval panel (not for the
raiser, with what approving leaves in the line), reasons and confirmation; GOV.UK
forms (money as people type it, date inputs, checkboxes, no "---------"); contract
warnings; strict parameters on the downloads and the API."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from freezegun import freeze_time
from rest_framework.test import APIClient

# Imported before any test freezes the clock (DRF's throttles keep ``time.time``).
import api.throttling  # noqa: F401
from accounts.roles import Role
from procurement import services
from procurement.models import BudgetTransfer, Contract, PurchaseOrder
from tests.factories import UserFactory
from tests.procurement.conftest import approve_on

pytestmark = pytest.mark.usefixtures("thresholds", "authorities")


def _summary(body: str) -> str:
    start = body.index('class="govuk-error-summary"')
    return body[start : body.index("</ul>", start)]


def _login(client, role, **kwargs):
    user = UserFactory(role=role, **kwargs)
    client.force_login(user)
    return user


# --- the envelope page -----------------------------------------------------------------


@freeze_time("2025-06-15 12:00:00")
def test_envelope_page_gives_each_line_and_year_one_signal_in_words(
    client, envelope, refresh_estate
):
    small = services.budget_line_create(
        envelope=envelope, financial_year="2025/26", category="laptop", amount=Decimal("3500")
    )
    _login(client, Role.FINANCE)

    body = " ".join(client.get(reverse("procurement:dashboard")).content.decode().split())

    row = re.search(rf'data-line="{small.pk}".*?</tr>', body, re.S).group(0)
    assert 'data-signal="over_budget"' in row and "Forecast over budget" in row
    # The forecast page's warning, repeated here
    assert 'data-test="envelope-warnings"' in body
    assert "The forecast exceeds the budget in 1 line: 2025/26 laptop" in body
    # Headlines in whole pounds
    assert "£46,763,000<" in body and "£46,763,000.00" not in body


def test_a_closed_year_is_marked_closed_on_the_envelope_page(client, laptop_line):
    _login(client, Role.FINANCE)

    with freeze_time("2026-04-02 12:00:00"):
        body = client.get(reverse("procurement:dashboard")).content.decode()

    row = re.search(rf'data-line="{laptop_line.pk}".*?</tr>', body, re.S).group(0)
    assert 'data-signal="closed"' in row and ">Closed<" in row
    assert "This financial year has closed" in body


def test_a_budget_line_drills_down_to_its_orders(
    client, envelope, laptop_line, make_order, commercial_officer
):
    other = services.budget_line_create(
        envelope=envelope, financial_year="2026/27", category="laptop", amount=Decimal("5000")
    )
    mine = make_order("100.00")
    theirs = make_order("200.00", line=other)
    _login(client, Role.FINANCE)

    envelope_page = client.get(reverse("procurement:dashboard")).content.decode()
    link = f"{reverse('procurement:purchase_order_list')}?budget_line={laptop_line.pk}"
    listing = client.get(link)

    assert f'href="{link}"' in envelope_page
    assert [o.pk for o in listing.context["orders"]] == [mine.pk]
    assert theirs.reference not in listing.content.decode()
    assert "Purchase orders: 2025/26 laptop" in listing.content.decode()


def test_asset_managers_see_volumes_with_closed_years_but_no_money(client, laptop_line):
    _login(client, Role.ASSET_MANAGER)

    with freeze_time("2026-04-02 12:00:00"):
        body = client.get(reverse("procurement:dashboard")).content.decode()

    assert "Closed" in body and "£" not in body.split('id="main-content"')[1]


# --- the order page ----------------------------------------------------------------------


@pytest.fixture
def submitted(make_order, raiser):
    return make_order("1200.00", quantity=1, vat_rate=Decimal("0.2"))


def test_the_raiser_sees_no_approve_panel_but_why(client, submitted):
    raiser = _login(client, Role.FINANCE)
    PurchaseOrder.objects.filter(pk=submitted.pk).update(raised_by=raiser)

    body = client.get(reverse("procurement:purchase_order_detail", args=[submitted.pk])).content

    text = body.decode()
    assert "You raised this order; another finance officer must approve it." in text
    assert 'data-test="approve-panel"' not in text
    assert 'name="confirm"' not in text


def test_another_officer_sees_what_approving_leaves_in_the_line(client, submitted):
    _login(client, Role.FINANCE)

    response = client.get(reverse("procurement:purchase_order_detail", args=[submitted.pk]))

    body = response.content.decode()
    assert 'data-test="approve-panel"' in body
    after = response.context["after"]["after"]
    # £1,000,000 line, nothing committed, this order £1,200 gross.
    assert after["uncommitted"] == Decimal("998800.00")
    assert "£998,800.00" in body
    # VAT as people write it, not 0.2000
    assert 'data-test="vat-rate">20%<' in body and "0.2000" not in body
    # The approval box is GOV.UK checkboxes markup, labelled
    assert re.search(
        r'govuk-checkboxes__item">\s*<input[^>]+name="confirm"[^>]*>\s*<label', body
    ), body


def test_a_refused_approval_is_in_the_error_summary_not_a_banner(client, make_order, laptop_line):
    order = make_order("150000.00")
    _login(client, Role.FINANCE)
    # The finance officer's limit in the fixtures is £100,000: the panel says so first
    assert (
        "your delegated limit is £100,000.00"
        in client.get(
            reverse("procurement:purchase_order_detail", args=[order.pk])
        ).content.decode()
    )

    with freeze_time("2025-06-02 12:00:00"):
        response = client.post(
            reverse("procurement:purchase_order_approve", args=[order.pk]), {"confirm": "on"}
        )

    body = response.content.decode()
    assert response.status_code == 200
    summary = _summary(body)
    assert "your delegated limit is £100,000.00" in summary
    assert "govuk-notification-banner" not in body


def test_return_to_draft_asks_why_and_shows_it_on_the_order(client, submitted):
    user = _login(client, Role.FINANCE)
    url = reverse("procurement:purchase_order_return_to_draft", args=[submitted.pk])

    form = client.get(url)
    response = client.post(url, {"reason": "Quote out of date"})

    assert form.status_code == 200 and 'name="reason"' in form.content.decode()
    assert response.status_code == 302
    submitted.refresh_from_db()
    assert submitted.status == PurchaseOrder.Status.DRAFT
    assert (submitted.returned_reason, submitted.returned_by) == ("Quote out of date", user)
    page = client.get(reverse("procurement:purchase_order_detail", args=[submitted.pk]))
    assert "Quote out of date" in page.content.decode()


def test_cancel_is_a_separate_confirmation_step(client, submitted):
    _login(client, Role.FINANCE)
    detail = client.get(reverse("procurement:purchase_order_detail", args=[submitted.pk]))
    url = reverse("procurement:purchase_order_cancel", args=[submitted.pk])

    confirm = client.get(url).content.decode()

    # The order page links to the step; the step asks a reason and a confirmation
    assert f'href="{url}"' in detail.content.decode()
    assert f'action="{url}"' not in detail.content.decode()
    assert "Are you sure you want to cancel" in confirm
    assert 'name="reason"' in confirm and 'name="confirm"' in confirm
    submitted.refresh_from_db()
    assert submitted.status == PurchaseOrder.Status.SUBMITTED


# --- forms -------------------------------------------------------------------------------


def test_order_form_takes_money_as_people_type_it(
    client, laptop_line, supplier, unit, laptop_model
):
    _login(client, Role.FINANCE)

    response = client.post(
        reverse("procurement:purchase_order_create"),
        {
            "budget_line": laptop_line.pk,
            "supplier": supplier.pk,
            "business_unit": unit.pk,
            "lines-TOTAL_FORMS": "1",
            "lines-INITIAL_FORMS": "0",
            "lines-0-device_model": laptop_model.pk,
            "lines-0-quantity": "2",
            "lines-0-unit_price": "£1,000",
            "lines-0-vat_percent": "20",
        },
    )

    assert response.status_code == 302
    order = PurchaseOrder.objects.get()
    assert order.net_total == Decimal("2000.00") and order.gross_total == Decimal("2400.00")
    assert order.lines.get().vat_rate == Decimal("0.2000")


def test_order_form_errors_name_their_line_and_field_in_the_summary(
    client, laptop_line, supplier, unit, laptop_model
):
    _login(client, Role.FINANCE)

    response = client.post(
        reverse("procurement:purchase_order_create"),
        {
            "budget_line": laptop_line.pk,
            "supplier": supplier.pk,
            "business_unit": unit.pk,
            "lines-TOTAL_FORMS": "1",
            "lines-INITIAL_FORMS": "0",
            "lines-0-device_model": laptop_model.pk,
            "lines-0-unit_price": "lots",
        },
    )

    body = response.content.decode()
    summary = _summary(body)
    assert "Line 1: Enter quantity" in summary
    assert "Line 1: Unit price, net (£) must be an amount in pounds" in summary
    assert not PurchaseOrder.objects.exists()


def test_budget_transfer_takes_1000000_with_commas(client, envelope, laptop_line):
    target = services.budget_line_create(
        envelope=envelope, financial_year="2026/27", category="laptop", amount=Decimal("0")
    )
    client.force_login(envelope.owner)

    response = client.post(
        reverse("procurement:budget_lines"),
        {
            "from_line": laptop_line.pk,
            "to_line": target.pk,
            "amount": "1,000,000",
            "reason": "Reprofile",
        },
    )

    assert response.status_code == 302
    assert BudgetTransfer.objects.get().amount == Decimal("1000000.00")


@pytest.mark.parametrize(
    "url_name",
    ["procurement:contract_create", "procurement:purchase_order_create"],
)
def test_forms_use_gov_uk_inputs_and_never_dashes(client, envelope, laptop_line, url_name):
    _login(client, Role.COMMERCIAL)

    body = client.get(reverse(url_name)).content.decode()

    assert "---------" not in body
    assert 'type="date"' not in body and 'type="number"' not in body
    if url_name == "procurement:contract_create":
        assert 'name="start_date_day"' in body and 'name="start_date_year"' in body
        assert re.search(
            r'govuk-checkboxes__item">\s*<input[^>]+name="ordering_process_followed"[^>]*>'
            r"\s*<label[^>]+govuk-checkboxes__label",
            body,
        )


def test_contract_form_takes_gov_uk_dates_and_money(client, envelope, supplier):
    _login(client, Role.COMMERCIAL)

    response = client.post(
        reverse("procurement:contract_create"),
        {
            "supplier": supplier.pk,
            "reference": "NC-1",
            "title": "Docks",
            "route": "new_contract",
            "value_ceiling": "£1,500,000",
            "start_date_day": "1",
            "start_date_month": "4",
            "start_date_year": "2026",
            "end_date_day": "31",
            "end_date_month": "3",
            "end_date_year": "2028",
        },
    )

    assert response.status_code == 302
    contract = Contract.objects.get(reference="NC-1")
    assert contract.value_ceiling == Decimal("1500000.00")
    assert (contract.start_date, contract.end_date) == (dt.date(2026, 4, 1), dt.date(2028, 3, 31))


# --- contract warnings --------------------------------------------------------------------


@freeze_time("2026-12-01 12:00:00")
def test_contracts_warn_of_expiry_and_a_ceiling_little_used(client, call_off):
    # The call-off ends on 31 March 2027 (within six months) with nothing committed
    # against its £20m ceiling and under a year left.
    finance = _login(client, Role.FINANCE)

    listing = client.get(reverse("procurement:contract_list")).content.decode()
    detail = client.get(reverse("procurement:contract_detail", args=[call_off.pk]))

    assert finance.is_authenticated
    assert 'data-warning="expiring"' in listing and 'data-warning="ceiling_unused"' in listing
    for body in (listing, detail.content.decode()):
        assert "Ends on 31 March 2027" in body
        assert "Only 0% of the ceiling is committed" in body


@freeze_time("2026-12-01 12:00:00")
def test_asset_managers_see_expiry_but_not_the_ceiling_warning(client, call_off):
    _login(client, Role.ASSET_MANAGER)

    body = client.get(reverse("procurement:contract_detail", args=[call_off.pk])).content

    assert "Ends on 31 March 2027" in body.decode()
    assert "of the ceiling is committed" not in body.decode()


@freeze_time("2027-04-02 12:00:00")
def test_an_expired_contract_says_so(client, call_off):
    _login(client, Role.COMMERCIAL)

    body = client.get(reverse("procurement:contract_list")).content.decode()

    assert 'data-warning="expired"' in body and "Expired on 31 March 2027" in body


# --- strict parameters -------------------------------------------------------------------


@pytest.mark.parametrize(
    "url_name", ["procurement:dashboard_export", "procurement:dashboard_export_csv"]
)
def test_an_export_refuses_an_unknown_parameter_naming_it(client, laptop_line, url_name):
    _login(client, Role.FINANCE)

    response = client.get(reverse(url_name), {"business_unit": "7"})

    assert response.status_code == 400
    assert "business_unit" in response.content.decode()


def test_the_api_refuses_an_unknown_parameter_naming_it(laptop_line):
    api = APIClient()
    api.force_authenticate(UserFactory(role=Role.FINANCE))

    response = api.get("/api/v1/procurement/envelope-position/", {"serial_number": "X"})

    assert response.status_code == 400
    assert "serial_number" in response.content.decode()


def test_the_csv_export_is_marked_and_carries_each_term(client, make_order, commercial_officer):
    approve_on(make_order("1500.00"), commercial_officer, dt.date(2025, 6, 2))
    _login(client, Role.FINANCE)

    response = client.get(reverse("procurement:dashboard_export_csv"))

    text = response.content.decode("utf-8-sig")
    assert response["X-Classification"] == "OFFICIAL-SENSITIVE [COMMERCIAL]"
    assert text.splitlines()[0] == "Classification: OFFICIAL-SENSITIVE [COMMERCIAL]"
    assert "Demand not yet ordered (£)" in text and "Headroom (£)" in text
    assert "1500.00" in text


def test_an_award_form_on_a_contract_uses_date_inputs(client, unawarded_call_off):
    _login(client, Role.COMMERCIAL)

    body = client.get(
        reverse("procurement:contract_detail", args=[unawarded_call_off.pk])
    ).content.decode()

    assert 'name="dsp_consent_on_day"' in body and 'type="date"' not in body
