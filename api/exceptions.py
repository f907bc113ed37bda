"""DRF's exception handler, giving every API error the one JSON shape of
``core.errors.error_body``; domain errors from services become 400s (or the
status their code maps to) naming the field.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.availability import is_database_unavailable, log_unavailable, retry_after
from core.errors import DomainError, domain_error_response_parts, error_body


class Conflict(exceptions.APIException):
    """409: the request clashes with another (an idempotency key reused or in flight)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with another request."
    default_code = "conflict"


class PreconditionFailed(exceptions.APIException):
    """412: ``If-Match`` names a version the resource no longer has."""

    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The resource has changed since you read it; fetch it again."
    default_code = "precondition_failed"


class DatabaseUnavailable(exceptions.APIException):
    """503: the database is away for a moment (core/availability.py); ``Retry-After``
    says when to try again. Nothing was changed: the request's transaction is gone."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The service's database is unavailable for a moment; nothing was changed."
    default_code = "database_unavailable"

    def __init__(self, wait: int):
        super().__init__(f"{self.default_detail} Retry after {wait} seconds.")
        # DRF's handler turns ``wait`` into the Retry-After header.
        self.wait = wait


# Bad headers or bodies are 400s with field messages, like any validation error.
RequestValidationError = exceptions.ValidationError


def _messages(value) -> list[str]:
    return [str(m) for m in (value if isinstance(value, list) else [value])]


def _flatten(prefix: str, value, into: dict) -> None:
    """Nested errors (a list item's field, a nested object's field) become one key per
    field, named by its path: ``results[2].serial_number``."""
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, into)
    elif isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
        for index, inner in enumerate(value):
            if inner:  # DRF gives an empty dict for each list item without errors
                _flatten(f"{prefix}[{index}]", inner, into)
    else:
        into.setdefault(prefix or "non_field_errors", []).extend(_messages(value))


def _fields_from(detail) -> dict:
    """Field (or header) name to its messages, flat, as the schema's Error says."""
    if isinstance(detail, dict | list):
        fields: dict[str, list[str]] = {}
        if isinstance(detail, list) and not any(isinstance(v, dict | list) for v in detail):
            return {"non_field_errors": _messages(detail)}
        _flatten("", detail, fields)
        return fields
    return {}


def exception_handler(exc, context):
    if is_database_unavailable(exc):
        log_unavailable(context.get("request"), exc)
        exc = DatabaseUnavailable(wait=retry_after())
    if isinstance(exc, DomainError):
        code, body = domain_error_response_parts(exc)
        return Response(body, status=code)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = response.data
    if isinstance(exc, exceptions.ValidationError):
        code = "invalid"
        fields = _fields_from(detail)
        # Name the first field and reason in the message too, for logs and humans.
        first = next(iter(fields.items()), None)
        message = (
            f"{first[0]}: {first[1][0] if isinstance(first[1], list) and first[1] else first[1]}"
            if first
            else "The request is invalid."
        )
    else:
        message = str(detail.get("detail", detail)) if isinstance(detail, dict) else str(detail)
        code = getattr(getattr(exc, "detail", None), "code", None) or getattr(
            exc, "default_code", "error"
        )
        fields = {}
    response.data = error_body(
        status=response.status_code, code=str(code), message=message, fields=fields
    )
    return response
