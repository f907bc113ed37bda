"""What the custody record and every disposals export show, to whom, and how marked.

* Every export says its classification in the ``X-Classification`` header (logged as
  a commercial export by core.middleware when it is OFFICIAL-SENSITIVE [COMMERCIAL]).
* Commercial figures in event details (a device update's purchase cost) are taken
  out for roles that may not see them, on the page, in the PDF and in the API.
* The custody certificate reads as words: no word broken across lines ("Perform ed"),
  codes shown by their labels ("Cryptographic erase", "In stock → Deployed").
* The route override's sign-off or rejection is on the custody record.
"""

import datetime as dt
import io
import logging
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader
from rest_framework.test import APIClient

from accounts.roles import Role
from core.exports import OFFICIAL, OFFICIAL_SENSITIVE_COMMERCIAL
from devices.models import DeviceEvent
from disposals import services
from disposals.models import Partner, Route
from tests.disposals.conftest import old_laptop
from tests.disposals.files import pdf_bytes
from tests.factories import BusinessUnitFactory, DeviceEventFactory

pytestmark = pytest.mark.django_db

HEADER = "X-Classification"


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def resold(flow):
    """A laptop worth reselling, taken all the way through a closed resale consignment,
    with an earlier update event that changed its purchase cost and location."""
    device = old_laptop(price="1000.00", years=2)
    DeviceEventFactory(
        device=device,
        kind=DeviceEvent.Kind.DEPLOYED,
        from_status="in_stock",
        to_status="deployed",
        occurred_at=dt.datetime(2023, 5, 2, 9, 0, tzinfo=dt.UTC),
    )
    DeviceEventFactory(
        device=device,
        kind=DeviceEvent.Kind.UPDATED,
        from_status="deployed",
        to_status="deployed",
        occurred_at=dt.datetime(2024, 2, 1, 9, 0, tzinfo=dt.UTC),
        details={
            "changed": {
                "purchase_cost": ["642.31", "777.77"],
                "location": ["Hendon", "Lambeth"],
            }
        },
    )
    cases = flow.routed([device], grade="A")
    consignment = services.consignment_create(
        route=Route.RESALE, partner=flow.partner(Partner.Kind.RESELLER), actor=flow.actor
    )
    services.consignment_add_cases(
        consignment=consignment, case_ids=[c.pk for c in cases], actor=flow.actor
    )
    services.consignment_dispatch(
        consignment=consignment,
        dispatch_date=timezone.localdate(),
        collected_by="Recommerce van",
        transfer_note_ref="WTN-77",
        actor=flow.actor,
    )
    from django.core.files.uploadedfile import SimpleUploadedFile

    services.consignment_certificate_upload(
        consignment=consignment,
        upload=SimpleUploadedFile("c.pdf", pdf_bytes(), "application/pdf"),
        actor=flow.actor,
    )
    services.consignment_close(
        consignment=consignment, actor=flow.actor, proceeds=Decimal("1234.56")
    )
    return device, consignment


# --- X-Classification on every export ------------------------------------------------


def test_every_export_says_its_marking_in_the_header(client, make_user, resold):
    device, consignment = resold
    finance, manager = make_user(Role.FINANCE), make_user(Role.ASSET_MANAGER)
    exports = {
        "custody_pdf": reverse("disposals:device_custody_pdf", args=[device.pk]),
        "consignment_pdf": reverse("disposals:consignment_custody_pdf", args=[consignment.pk]),
        "summary_csv": reverse("disposals:summary") + "?format=csv",
        "partner_certificate": reverse(
            "disposals:consignment_partner_certificate", args=[consignment.pk]
        ),
    }
    expected = {
        # Finance sees the estimated value, the proceeds and the income: commercial.
        finance: {
            "custody_pdf": OFFICIAL_SENSITIVE_COMMERCIAL,
            "consignment_pdf": OFFICIAL_SENSITIVE_COMMERCIAL,
            "summary_csv": OFFICIAL_SENSITIVE_COMMERCIAL,
            "partner_certificate": OFFICIAL,
        },
        manager: dict.fromkeys(exports, OFFICIAL),
    }
    for user, marks in expected.items():
        client.force_login(user)
        for name, url in exports.items():
            response = client.get(url)
            assert response.status_code == 200, (name, response.status_code)
            assert response[HEADER] == marks[name], (user, name)


def test_api_custody_and_route_answers_carry_the_header(make_user, resold):
    device, _ = resold
    for user, mark in ((make_user(Role.FINANCE), OFFICIAL_SENSITIVE_COMMERCIAL),
                       (make_user(Role.ASSET_MANAGER), OFFICIAL)):  # fmt: skip
        for path in ("custody", "route"):
            response = _api(user).get(f"/api/v1/disposals/devices/{device.pk}/{path}/")
            assert response.status_code == 200
            assert response[HEADER] == mark
            assert response.json()["classification"] == mark


def test_commercial_custody_pdf_is_logged_as_a_commercial_export(client, make_user, resold, caplog):
    device, _ = resold
    client.force_login(make_user(Role.FINANCE))

    with caplog.at_level(logging.INFO, logger="security"):
        client.get(reverse("disposals:device_custody_pdf", args=[device.pk]))

    assert any("commercial_export" in r.getMessage() for r in caplog.records)


# --- commercial figures in events are redacted for other roles -----------------------


@pytest.mark.parametrize("role", [Role.ASSET_MANAGER, Role.UNIT_VIEWER])
def test_purchase_cost_in_events_is_redacted_for_non_commercial_roles(
    client, make_user, resold, role
):
    device, _ = resold
    user = make_user(role, units=[device.business_unit] if role == Role.UNIT_VIEWER else ())
    client.force_login(user)

    page = client.get(reverse("disposals:device_custody", args=[device.pk])).content.decode()
    pdf = _text(client.get(reverse("disposals:device_custody_pdf", args=[device.pk])).content)
    api = _api(user).get(f"/api/v1/disposals/devices/{device.pk}/custody/").json()

    for shown in (page, pdf, str(api)):
        assert "642.31" not in shown and "777.77" not in shown
        assert "Lambeth" in shown  # the rest of the change is still there
    updated = next(e for e in api["events"] if e["kind"] == "updated")
    assert "purchase_cost" not in updated["details"]["changed"]


def test_finance_sees_the_purchase_cost_change(client, finance_officer, resold):
    device, _ = resold
    client.force_login(finance_officer)

    page = client.get(reverse("disposals:device_custody", args=[device.pk])).content.decode()

    assert "642.31" in page and "777.77" in page


def test_stored_event_details_are_not_changed_by_redaction(client, asset_manager, resold):
    device, _ = resold
    client.force_login(asset_manager)
    client.get(reverse("disposals:device_custody", args=[device.pk]))

    stored = DeviceEvent.objects.get(device=device, kind=DeviceEvent.Kind.UPDATED).details
    assert stored["changed"]["purchase_cost"] == ["642.31", "777.77"]


# --- the custody certificate reads as words ------------------------------------------


def test_custody_pdf_breaks_no_word_and_shows_codes_as_words(client, finance_officer, resold):
    device, _ = resold
    client.force_login(finance_officer)

    text = _text(client.get(reverse("disposals:device_custody_pdf", args=[device.pk])).content)

    # Words wrap between lines, never inside: each long word is whole on its line.
    tokens = set(text.split())
    for word in ("Performed", "Cryptographic", "Verifier", "Certificate", "sanitisation",
                 "Sanitisation", "consignment", "Disposed"):  # fmt: skip
        assert word in tokens, word
    flowing = " ".join(text.split())
    for phrase in (
        "Cryptographic erase",
        "Certificate or log reference",
        "Sanitisation recorded",
        "Residual value assessed",
        "In stock → Deployed",
        "Awaiting sanitisation → Sanitised",
        "Dispatch date: " + timezone.localdate().strftime("%-d %b %Y"),
    ):
        assert phrase in flowing, phrase
    for code in ("crypto_erase", "in_stock", "awaiting_sanitisation", "route_chosen"):
        assert code not in text, code
    assert "£405.00" in text  # the estimate, for finance


def test_custody_pdf_columns_fit_their_longest_word():
    from reportlab.pdfbase.pdfmetrics import stringWidth

    from disposals.pdf import PADDING, PAGE_WIDTH, SIZE, fit_widths

    header = ["When", "Step", "Status", "By", "Details"]
    rows = [
        ["2 May 2023 09:00", "Sanitisation recorded", "Awaiting sanitisation → Sanitised",
         "asset.manager", "Method: Cryptographic erase; Standard: NIST SP 800-88 Purge " * 3],
    ]  # fmt: skip

    widths = fit_widths(header, rows)

    assert sum(widths) == pytest.approx(PAGE_WIDTH)
    for column, width in zip(zip(header, *rows, strict=True), widths, strict=True):
        head, *cells = column
        longest = max(
            *(stringWidth(w, "Helvetica-Bold", SIZE) for w in head.split()),
            *(stringWidth(w, "Helvetica", SIZE) for cell in cells for w in cell.split()),
        )
        assert width >= longest + PADDING


def test_custody_page_shows_words_not_codes(client, asset_manager, resold):
    device, _ = resold
    client.force_login(asset_manager)

    body = client.get(reverse("disposals:device_custody", args=[device.pk])).content.decode()

    assert "Cryptographic erase" in body and "crypto_erase" not in body
    assert "Sanitisation recorded" in body
    assert "awaiting_sanitisation" not in body.replace('data-kind="', "")


# --- the override's review on the custody record --------------------------------------


@pytest.fixture
def rejected(flow, make_user):
    requester = make_user(Role.ASSET_MANAGER)
    device = old_laptop(price="1000.00", years=2)
    case = flow.assessed([device], grade="A")[0]
    services.routes_decide(
        case_ids=[case.pk], actor=requester, route=Route.REUSE, override_reason="LOTI pledge"
    )
    approver = make_user(Role.COMMERCIAL)
    services.route_override_reject(
        case=case, approver=approver, reason="Sell it: worth more than the pledge"
    )
    return device, requester, approver


def test_custody_pdf_and_page_show_the_rejected_override(client, make_user, rejected):
    device, requester, approver = rejected
    client.force_login(make_user(Role.FINANCE))

    text = _text(client.get(reverse("disposals:device_custody_pdf", args=[device.pk])).content)
    page = client.get(reverse("disposals:device_custody", args=[device.pk])).content.decode()
    page = re.sub(r"<[^>]+>", "", page)  # the page's words, without its markup

    for shown in (text, page):
        assert requester.username in shown and "LOTI pledge" in shown
        assert "Rejected by" in shown and approver.username in shown
        assert "Sell it" in shown
        assert "Route override rejected" in " ".join(shown.split())  # the step, in words


def test_out_of_scope_route_answer_is_404(make_user, rejected):
    device, _, _ = rejected
    outsider = make_user(Role.FINANCE, units=[BusinessUnitFactory()])

    assert _api(outsider).get(f"/api/v1/disposals/devices/{device.pk}/route/").status_code == 404
