"""Under /api/, an unhandled exception is still an answer in the API's one JSON error
shape: a 500 with no HTML and no traceback (the traceback goes to the log)."""

from __future__ import annotations

import logging

from django.http import JsonResponse

from core.errors import error_body

API_PREFIX = "/api/"
request_logger = logging.getLogger("django.request")


def api_server_error(request) -> JsonResponse:
    body = error_body(
        status=500,
        code="server_error",
        message="The server failed to answer this request; it has been logged. Retry later.",
    )
    return JsonResponse(body, status=500)


def api_not_found(request) -> JsonResponse:
    body = error_body(status=404, code="not_found", message="No such API endpoint.")
    return JsonResponse(body, status=404)


class ApiErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not request.path.startswith(API_PREFIX):
            return None  # pages keep Django's own 500 handling (handler500)
        # Returning a response stops Django logging the exception, so log it here as
        # Django would, with the traceback, for the operators.
        request_logger.error(
            "Internal Server Error: %s",
            request.path,
            exc_info=exception,
            extra={"status_code": 500, "request": request},
        )
        return api_server_error(request)
