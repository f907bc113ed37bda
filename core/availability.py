"""Degrade, don't fail: with the database away, every request is answered 503
Service Unavailable with ``Retry-After``, never a 500.

A PostgreSQL restart, a failover or a connection cut (``OperationalError``,
``InterfaceError``) is not a fault in the request: the same request will work in a
few seconds. So the answer says so: under /api/ in the API's one JSON error shape
(``core.errors.error_body``, code ``database_unavailable``), elsewhere the plain
``503.html`` page, which needs no database (no session, no navigation), both with
``Retry-After: DATABASE_UNAVAILABLE_RETRY_AFTER`` seconds.

Two middlewares, because Django turns an exception into a response at two levels:

- ``DatabaseUnavailableViewMiddleware``, listed after ``api.middleware.ApiErrorMiddleware``
  so its ``process_exception`` runs first: an exception raised by a view (DRF
  views answer their own through ``api.exceptions.exception_handler``).
- ``DatabaseUnavailableMiddleware``, listed near the top: an exception raised
  inside a middleware (loading the session, saving it) has already become
  Django's 500 by the time it gets here; the ``got_request_exception`` signal
  marked the request, and the 500 is replaced by the 503.

Django drops a connection that raised (CONN_HEALTH_CHECKS checks it before the next
request), so the first request after the database is back is answered normally.
"""

from __future__ import annotations

import logging
import sys

from django.conf import settings
from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template import loader

from core.errors import error_body

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
DATABASE_ERRORS = (OperationalError, InterfaceError)
_MARK = "_database_unavailable"


def retry_after() -> int:
    return settings.DATABASE_UNAVAILABLE_RETRY_AFTER


def is_database_unavailable(exc: BaseException | None) -> bool:
    return isinstance(exc, DATABASE_ERRORS)


def log_unavailable(request, exc: BaseException) -> None:
    logger.warning(
        "database_unavailable: answering 503 to %s %s",
        getattr(request, "method", "?"),
        getattr(request, "path", "?"),
        extra={
            "event": "database_unavailable",
            "error": f"{type(exc).__name__}: {exc}".strip()[:500],
            "status_code": 503,
        },
    )


def api_unavailable_body() -> dict:
    return error_body(
        status=503,
        code="database_unavailable",
        message="The service's database is unavailable for a moment; nothing was "
        f"changed. Retry after {retry_after()} seconds.",
    )


def unavailable_response(request) -> HttpResponse:
    """The 503 for ``request``: JSON under /api/, the plain page elsewhere."""
    seconds = retry_after()
    if request.path.startswith(API_PREFIX):
        response = JsonResponse(api_unavailable_body(), status=503)
    else:
        # Rendered without the request's context processors: they read the session and
        # the user, which live in the database that is away.
        page = loader.get_template("503.html").render({"request": request, "retry_after": seconds})
        response = HttpResponse(page, status=503)
    response["Retry-After"] = str(seconds)
    response["Cache-Control"] = "no-store"
    return response


def _mark_request(sender, request=None, **kwargs) -> None:
    exc = sys.exc_info()[1]
    if request is not None and is_database_unavailable(exc):
        setattr(request, _MARK, exc)


got_request_exception.connect(_mark_request, dispatch_uid="core.availability.mark_request")


class DatabaseUnavailableMiddleware:
    """Outer: a 500 that a database error caused anywhere inside becomes the 503."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            response = self.get_response(request)
        except DATABASE_ERRORS as exc:
            log_unavailable(request, exc)
            return unavailable_response(request)
        exc = getattr(request, _MARK, None)
        if exc is not None and response.status_code == 500:
            log_unavailable(request, exc)
            return unavailable_response(request)
        return response


class DatabaseUnavailableViewMiddleware:
    """Inner: a view that raised a database error answers the 503."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not is_database_unavailable(exception):
            return None
        log_unavailable(request, exception)
        return unavailable_response(request)
