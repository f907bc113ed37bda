"""The partner's certificate, checked as a real file before it is stored.

A partner's certificate of reuse, recycling or destruction is the proof that a
consignment's devices left the estate lawfully, so what is stored must be a document
someone can open:

* size first: the limit (``settings.DISPOSALS_CERTIFICATE_MAX_BYTES``, 10 MB by
  default) is checked from the upload's declared size before a byte of it is read
  (and, on the page, while the request streams in: ``disposals.uploads``);
* the type from the first bytes, never from the file name or the browser's claim:
  PDF, PNG or JPEG;
* then the file itself: a PDF must open with ``pypdf`` and have at least one page
  (``%PDF-`` followed by an HTML page is refused); a PNG or JPEG must decode, its
  dimensions read from the header and bounded before any pixel is decoded
  (``CERTIFICATE_MAX_PIXELS``), so a small file that expands to a huge bitmap is
  refused without being loaded.

The stored name is made by the caller from the consignment's reference; nothing of
the upload's own name is kept (no path traversal, no misleading extension).
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

from django.conf import settings

from core.errors import DomainError

# A scan of an A3 page at 300 dpi is about 17.5 million pixels; anything beyond this
# is not a certificate but a decompression bomb.
CERTIFICATE_MAX_PIXELS = 25_000_000
CERTIFICATE_MAX_SIDE = 20_000

# Real content types by their first bytes; the file name's extension is not trusted.
CERTIFICATE_SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)
EXTENSIONS = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg"}
WRONG_TYPE = "The certificate must be a PDF, PNG or JPEG file."


@dataclass(frozen=True)
class CheckedCertificate:
    content_type: str
    extension: str
    size: int


def certificate_max_bytes() -> int:
    """The size limit in force (read at call time, so a changed setting applies)."""
    return settings.DISPOSALS_CERTIFICATE_MAX_BYTES


def certificate_content_type(head: bytes) -> str | None:
    """The real content type from the file's first bytes, or None if not allowed."""
    for signature, content_type in CERTIFICATE_SIGNATURES:
        if head.startswith(signature):
            return content_type
    return None


def size_text(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.1f} KB"


def too_large(size: int, limit: int) -> DomainError:
    return DomainError(
        f"The certificate is {size_text(size)}; the limit is {size_text(limit)}. "
        "Upload a smaller scan or a PDF.",
        field="certificate",
        code="too_large",
    )


def _refuse(message: str, code: str = "unreadable") -> DomainError:
    return DomainError(message, field="certificate", code=code)


def _check_pdf(data: bytes) -> None:
    from pypdf import PdfReader

    # pypdf reports damage through the "pypdf" logger; a refused file is reported to
    # the user instead, so keep the log quiet while checking.
    log = logging.getLogger("pypdf")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise _refuse(
                "The certificate PDF is password-protected; upload a copy without a password.",
                code="encrypted",
            )
        pages = len(reader.pages)
        if pages:
            reader.pages[0].mediabox  # noqa: B018 - the first page must be readable
    except DomainError:
        raise
    # A hostile or damaged file can make the parser fail in many ways (its own errors,
    # ValueError, KeyError, RecursionError...): every one is the same refusal.
    except Exception:
        raise _refuse(
            "The certificate is not a readable PDF (it starts like one but does not open). "
            "Upload the partner's certificate as a PDF, PNG or JPEG."
        ) from None
    finally:
        log.setLevel(level)
    if pages < 1:
        raise _refuse("The certificate PDF has no pages.", code="empty")


def _check_image(data: bytes, content_type: str) -> None:
    from PIL import Image, UnidentifiedImageError

    expected = {"image/png": "PNG", "image/jpeg": "JPEG"}[content_type]
    label = expected if expected == "PNG" else "JPEG"
    unreadable = _refuse(f"The certificate is not a readable {label} image.")
    try:
        # Opening reads only the header: format and dimensions, no pixels.
        with Image.open(io.BytesIO(data)) as image:
            if image.format != expected:
                raise unreadable
            width, height = image.size
            if not (0 < width <= CERTIFICATE_MAX_SIDE and 0 < height <= CERTIFICATE_MAX_SIDE):
                raise _refuse(
                    f"The certificate image is {width:,} × {height:,} pixels; that is not a "
                    "scanned document.",
                    code="too_large",
                )
            if width * height > CERTIFICATE_MAX_PIXELS:
                raise _refuse(
                    f"The certificate image is {width:,} × {height:,} pixels; the limit is "
                    f"{CERTIFICATE_MAX_PIXELS:,} pixels. Scan at a lower resolution or "
                    "upload a PDF.",
                    code="too_large",
                )
            # Checks the file's structure (a PNG's chunk checksums) without decoding.
            image.verify()
        # verify() leaves the image unusable: open again and decode the pixels, now
        # known to be bounded (a JPEG at an eighth of its size: enough to prove it).
        with Image.open(io.BytesIO(data)) as image:
            if expected == "JPEG":
                image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
            image.load()
    except DomainError:
        raise
    except Image.DecompressionBombError:
        # Pillow's own guard, for dimensions far past ours: the same refusal.
        raise _refuse(
            "The certificate image has far too many pixels to be a scanned document.",
            code="too_large",
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise unreadable from None
    except Exception:  # any decoder failure is the same refusal
        raise unreadable from None


def certificate_check(upload, *, max_bytes: int | None = None) -> CheckedCertificate:
    """Check an uploaded certificate (a Django ``UploadedFile`` or ``File``) and
    return its real type; raise ``DomainError`` (field ``certificate``) otherwise.

    The size is checked from the declared size before reading; the body is then
    read once (at most the limit, plus one byte to catch a size that lied)."""
    limit = max_bytes or certificate_max_bytes()
    if upload is None:
        raise _refuse("Choose the partner's certificate file.", code="required")
    declared = getattr(upload, "size", None)
    if declared is not None and declared > limit:
        raise too_large(declared, limit)
    if declared == 0:
        raise _refuse("The certificate file is empty.", code="empty")
    upload.seek(0)
    data = upload.read(limit + 1)
    upload.seek(0)
    if len(data) > limit:
        raise too_large(len(data), limit)
    if not data:
        raise _refuse("The certificate file is empty.", code="empty")
    content_type = certificate_content_type(data[:16])
    if content_type is None:
        raise _refuse(WRONG_TYPE, code="wrong_type")
    if content_type == "application/pdf":
        _check_pdf(data)
    else:
        _check_image(data, content_type)
    return CheckedCertificate(
        content_type=content_type, extension=EXTENSIONS[content_type], size=len(data)
    )
