"""Hostile partner certificates: each is refused cleanly and nothing is stored.

A consignment's certificate is the proof its devices left the estate, so what is
stored must be a document that opens: a PDF that ``pypdf`` reads with at least one
page, or a PNG or JPEG that decodes, its size bounded (``DISPOSALS_CERTIFICATE_MAX_BYTES``)
before the body is read and its pixel count bounded before any pixel is decoded. The
stored name never comes from the upload. Doors: the service (every caller), the page
(a clear GOV.UK error, 400).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from core.errors import DomainError
from disposals import services
from disposals.models import Consignment, Route
from tests.disposals.conftest import flow, returned_devices, rule  # noqa: F401
from tests.disposals.files import image_bytes, pdf_bytes, png_header_only

pytestmark = pytest.mark.django_db


@pytest.fixture
def dispatched(flow, returned_devices):  # noqa: F811
    """A dispatched consignment awaiting its certificate; ``.actor`` may upload it."""
    cases = flow.routed(returned_devices(1), grade="C")
    consignment = services.consignment_create(
        route=Route.RECYCLING, partner=flow.partner(), actor=flow.actor
    )
    services.consignment_add_cases(
        consignment=consignment, case_ids=[c.pk for c in cases], actor=flow.actor
    )
    services.consignment_dispatch(
        consignment=consignment,
        dispatch_date=timezone.localdate(),
        collected_by="GreenCycle van",
        transfer_note_ref="WTN-9",
        actor=flow.actor,
    )
    consignment.actor = flow.actor
    return consignment


def _encrypted_pdf() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.encrypt("partner-secret")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _pdf_without_pages() -> bytes:
    from pypdf import PdfWriter

    buffer = io.BytesIO()
    PdfWriter().write(buffer)
    return buffer.getvalue()


REAL_PDF = pdf_bytes()
REAL_PNG = image_bytes("PNG")
REAL_JPEG = image_bytes("JPEG")

# name -> (bytes, refusal code, words the message must carry)
HOSTILE = {
    "pdf-header-then-html": (
        b"%PDF-1.7\n<html><body><script>alert(1)</script></body></html>\n",
        "unreadable",
        "not a readable PDF",
    ),
    "pdf-header-only": (b"%PDF-1.4\n% test certificate\n", "unreadable", "not a readable PDF"),
    "pdf-truncated": (REAL_PDF[: len(REAL_PDF) // 2], "unreadable", "not a readable PDF"),
    "pdf-without-pages": (_pdf_without_pages(), "empty", "no pages"),
    "pdf-password-protected": (_encrypted_pdf(), "encrypted", "password-protected"),
    "png-signature-then-html": (
        b"\x89PNG\r\n\x1a\n<html>not an image</html>",
        "unreadable",
        "not a readable PNG",
    ),
    "png-truncated": (REAL_PNG[: len(REAL_PNG) - 20], "unreadable", "not a readable PNG"),
    "png-decompression-bomb": (png_header_only(19_000, 19_000), "too_large", "pixels"),
    "png-absurd-dimensions": (png_header_only(100_000, 1), "too_large", "pixels"),
    "jpeg-signature-then-garbage": (
        b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF\x00" + b"\x13" * 200,
        "unreadable",
        "not a readable JPEG",
    ),
    "jpeg-truncated": (REAL_JPEG[:40], "unreadable", "not a readable JPEG"),
    "html-named-pdf": (b"<html><body>certificate</body></html>", "wrong_type", "PDF, PNG or JPEG"),
    "windows-executable": (b"MZ\x90\x00\x03\x00\x00\x00binary", "wrong_type", "PDF, PNG or JPEG"),
    "svg-with-script": (
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "wrong_type",
        "PDF, PNG or JPEG",
    ),
    "empty-file": (b"", "empty", "empty"),
}


def _stored_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _snapshot(consignment):
    c = Consignment.objects.get(pk=consignment.pk)
    return (c.status, c.certificate.name, c.certificate_content_type, c.certificate_uploaded_at)


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_certificate_refused_service(dispatched, settings, name):
    data, code, words = HOSTILE[name]
    before, files = _snapshot(dispatched), _stored_files(settings)

    with pytest.raises(DomainError) as refused:
        services.consignment_certificate_upload(
            consignment=dispatched,
            upload=SimpleUploadedFile("certificate.pdf", data, "application/pdf"),
            actor=dispatched.actor,
        )

    assert (refused.value.code, refused.value.field) == (code, "certificate")
    assert words in refused.value.message
    assert _snapshot(dispatched) == before
    assert _stored_files(settings) == files


@pytest.mark.parametrize(
    "name",
    ["pdf-header-then-html", "pdf-without-pages", "png-decompression-bomb", "html-named-pdf"],
)
def test_hostile_certificate_refused_page(client, dispatched, settings, name):
    data, _code, words = HOSTILE[name]
    before, files = _snapshot(dispatched), _stored_files(settings)
    client.force_login(dispatched.actor)

    response = client.post(
        reverse("disposals:consignment_certificate", args=[dispatched.pk]),
        {"certificate": SimpleUploadedFile("certificate.pdf", data, "application/pdf")},
    )

    assert response.status_code == 400
    body = response.content.decode()
    assert 'class="govuk-error-summary"' in body
    assert words in body
    assert 'href="#id_certificate"' in body  # the error names (links to) the field
    assert _snapshot(dispatched) == before
    assert _stored_files(settings) == files


@pytest.mark.parametrize(
    "data, content_type, extension",
    [
        (REAL_PDF, "application/pdf", ".pdf"),
        (REAL_PNG, "image/png", ".png"),
        (REAL_JPEG, "image/jpeg", ".jpg"),
    ],
    ids=["pdf", "png", "jpeg"],
)
def test_real_certificates_are_stored_by_their_content(dispatched, data, content_type, extension):
    services.consignment_certificate_upload(
        consignment=dispatched,
        upload=SimpleUploadedFile("scan.txt", data, "text/plain"),
        actor=dispatched.actor,
    )

    stored = Consignment.objects.get(pk=dispatched.pk)
    assert stored.certificate_content_type == content_type
    assert stored.certificate.name.endswith(extension)
    assert stored.certificate.open("rb").read() == data


@pytest.mark.parametrize(
    "upload_name",
    [
        "../../../../etc/passwd.pdf",
        "..\\..\\windows\\win.ini.pdf",
        "/abs/path/cert.pdf",
        "a\x00b.pdf",
    ],
    ids=["dotdot", "backslashes", "absolute", "nul"],
)
def test_stored_name_never_comes_from_the_upload(dispatched, settings, upload_name):
    services.consignment_certificate_upload(
        consignment=dispatched,
        upload=SimpleUploadedFile(upload_name, REAL_PDF, "application/pdf"),
        actor=dispatched.actor,
    )

    stored = Consignment.objects.get(pk=dispatched.pk)
    name = stored.certificate.name
    assert name.startswith("disposals/certificates/")
    assert Path(name).name.startswith(f"{stored.reference}-")
    for part in ("..", "\\", "passwd", "win.ini", "abs", "\x00"):
        assert part not in name
    assert (
        Path(stored.certificate.path).resolve().is_relative_to(Path(settings.MEDIA_ROOT).resolve())
    )


class _NeverRead:
    """An upload that declares its size and fails the test if its body is read."""

    name = "huge.pdf"
    content_type = "application/pdf"

    def __init__(self, size):
        self.size = size

    def seek(self, *args):
        raise AssertionError("the body was touched before the size was checked")

    def read(self, *args):
        raise AssertionError("the body was read before the size was checked")


def test_size_limit_checked_before_the_body_is_read(dispatched, settings):
    settings.DISPOSALS_CERTIFICATE_MAX_BYTES = 10 * 1024 * 1024
    before = _snapshot(dispatched)

    with pytest.raises(DomainError) as refused:
        services.consignment_certificate_upload(
            consignment=dispatched, upload=_NeverRead(50 * 1024 * 1024), actor=dispatched.actor
        )

    assert refused.value.code == "too_large"
    assert "50.0 MB" in refused.value.message and "10.0 MB" in refused.value.message
    assert _snapshot(dispatched) == before


def test_size_that_lied_is_still_refused(dispatched, settings):
    settings.DISPOSALS_CERTIFICATE_MAX_BYTES = 1024
    upload = SimpleUploadedFile("c.pdf", REAL_PDF + b"\n%" + b"x" * 4096, "application/pdf")
    upload.size = 10  # declares less than it holds

    with pytest.raises(DomainError) as refused:
        services.consignment_certificate_upload(
            consignment=dispatched, upload=upload, actor=dispatched.actor
        )

    assert refused.value.code == "too_large"


def test_oversized_upload_is_refused_on_the_page_while_it_streams(client, dispatched, settings):
    settings.DISPOSALS_CERTIFICATE_MAX_BYTES = 100 * 1024
    before, files = _snapshot(dispatched), _stored_files(settings)
    client.force_login(dispatched.actor)

    response = client.post(
        reverse("disposals:consignment_certificate", args=[dispatched.pk]),
        {"certificate": SimpleUploadedFile("big.pdf", REAL_PDF + b"%" * (300 * 1024))},
    )

    assert response.status_code == 400
    body = response.content.decode()
    assert "the limit is 100.0 KB" in body
    assert "Choose the partner" not in body  # refused for its size, not as missing
    assert _snapshot(dispatched) == before
    assert _stored_files(settings) == files


def test_certificate_page_still_checks_the_csrf_token(dispatched):
    # The view installs its upload limit before the body is read, so it checks the
    # CSRF token itself: a post without one is still refused.
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(dispatched.actor)

    response = client.post(
        reverse("disposals:consignment_certificate", args=[dispatched.pk]),
        {"certificate": SimpleUploadedFile("c.pdf", REAL_PDF, "application/pdf")},
    )

    assert response.status_code == 403
    assert not Consignment.objects.get(pk=dispatched.pk).certificate
