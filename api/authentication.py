"""Token authentication for integration accounts.

Tokens come from django-rest-knox: only a hash of each key is stored, a key is
shown once when created, and a token can carry an expiry and be revoked by
deleting it. Clients send ``Authorization: Token <key>``. Every use and every
refusal of a token is a security event (core/security_log.py), naming the token
by its public prefix only.
"""

from knox.auth import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from core.security_log import security_event


class ExpiringTokenAuthentication(TokenAuthentication):
    """Knox tokens under the conventional ``Token`` keyword."""

    keyword = "Token"

    def authenticate(self, request):
        try:
            result = super().authenticate(request)
        except AuthenticationFailed as exc:
            # user="" : asking the DRF request for its user here would re-enter auth.
            security_event(
                "api_token_rejected",
                request=request,
                user="",
                outcome="refused",
                detail={"reason": str(exc.detail), "method": request.method},
            )
            raise
        if result is not None:
            user, token = result
            security_event(
                "api_token_used",
                request=request,
                user=user,
                outcome="allowed",
                detail={"token": token.token_key, "method": request.method},
            )
        return result
