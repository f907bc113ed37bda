"""One JSON error shape for the whole API.

Every error is ``{"error": {"status": int, "code": str, "message": str,
"fields": {field: [messages]}}}``; domain errors from services become 400s
naming the field, and nothing reaches the client as a 500 for bad input.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from devices.errors import DomainError

# DomainError codes that are not a plain 400.
DOMAIN_STATUS = {
    "version_conflict": status.HTTP_412_PRECONDITION_FAILED,
    "not_found": status.HTTP_404_NOT_FOUND,
}


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


# Bad headers or bodies are 400s with field messages, like any validation error.
RequestValidationError = exceptions.ValidationError


def _fields_from(detail) -> dict:
    if isinstance(detail, dict):
        return {
            key: [str(m) for m in (value if isinstance(value, list) else [value])]
            if not isinstance(value, dict)
            else _fields_from(value)
            for key, value in detail.items()
        }
    if isinstance(detail, list):
        return {"non_field_errors": [str(m) for m in detail]}
    return {}


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        fields = {exc.field: [exc.message]} if exc.field else {}
        code = DOMAIN_STATUS.get(exc.code, status.HTTP_400_BAD_REQUEST)
        body = {
            "error": {"status": code, "code": exc.code, "message": exc.message, "fields": fields}
        }
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
    response.data = {
        "error": {
            "status": response.status_code,
            "code": str(code),
            "message": message,
            "fields": fields,
        }
    }
    return response
