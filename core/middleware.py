"""Response-level safeguards every page and API response passes through."""

from __future__ import annotations

from django.utils.cache import patch_cache_control

from core.exports import OFFICIAL_SENSITIVE_COMMERCIAL
from core.security_log import security_event

# The header an export response carries to say how it is marked (core/exports.py).
CLASSIFICATION_HEADER = "X-Classification"


def _signed_in(request) -> bool:
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated)


class NoStoreForSignedInMiddleware:
    """``Cache-Control: no-store`` on every response to a signed-in user (session or API
    token), so no browser, proxy or shared machine keeps a copy of what they were shown.

    DRF authenticates tokens inside the view and sets the user on the underlying
    request, so by the time the response passes here the token's user is known.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if _signed_in(request) or "HTTP_AUTHORIZATION" in request.META:
            patch_cache_control(response, no_store=True, private=True)
        return response


class SecurityEventMiddleware:
    """Logs refusals and commercial exports as security events, at one place for every
    view: a 403 from Django's PermissionDenied, DRF's permission checks or CSRF is a
    ``permission_denied``; a response marked OFFICIAL-SENSITIVE [COMMERCIAL] (header
    ``X-Classification``) that is a download or an API answer is a
    ``commercial_export``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 403:
            security_event(
                "permission_denied",
                request=request,
                outcome="refused",
                detail={"method": request.method, "status": 403},
            )
        elif (
            response.status_code < 300
            and response.get(CLASSIFICATION_HEADER) == OFFICIAL_SENSITIVE_COMMERCIAL
        ):
            security_event(
                "commercial_export",
                request=request,
                outcome="allowed",
                detail={
                    "classification": OFFICIAL_SENSITIVE_COMMERCIAL,
                    "content_type": response.get("Content-Type", ""),
                    "disposition": response.get("Content-Disposition", ""),
                },
            )
        return response
