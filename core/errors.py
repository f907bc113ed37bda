"""The domain error every app's services raise, and the one JSON shape it takes.

Views turn a ``DomainError`` into a message on the page, the API into the JSON
error shape below; neither leaves anything half-written, because services raise
before they write or inside the transaction that is rolled back.
"""

from __future__ import annotations

from http import HTTPStatus


class DomainError(Exception):
    """A business rule refused the change. ``field`` names what was wrong, if anything;
    ``code`` is the stable, machine-readable reason integrations switch on."""

    def __init__(self, message: str, *, field: str | None = None, code: str = "invalid"):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code


# DomainError codes that are not a plain 400.
DOMAIN_STATUS: dict[str, int] = {
    "version_conflict": HTTPStatus.PRECONDITION_FAILED,
    "not_found": HTTPStatus.NOT_FOUND,
}


def error_body(*, status: int, code: str, message: str, fields: dict | None = None) -> dict:
    """The API's one error shape:
    ``{"error": {"status": int, "code": str, "message": str, "fields": {field: [messages]}}}``.
    """
    return {
        "error": {
            "status": int(status),
            "code": str(code),
            "message": message,
            "fields": fields or {},
        }
    }


def domain_error_response_parts(exc: DomainError) -> tuple[int, dict]:
    """The HTTP status and body a ``DomainError`` maps to."""
    status = DOMAIN_STATUS.get(exc.code, HTTPStatus.BAD_REQUEST)
    fields = {exc.field: [exc.message]} if exc.field else {}
    return status, error_body(status=status, code=exc.code, message=exc.message, fields=fields)
