"""Token authentication for integration accounts.

Tokens come from django-rest-knox: only a hash of each key is stored, a key is
shown once when created, and a token can carry an expiry and be revoked by
deleting it. Clients send ``Authorization: Token <key>``. Every use and every
refusal of a token is a security event (core/security_log.py), naming the token
by its public prefix only.
"""

from django.utils import timezone
from knox.auth import TokenAuthentication
from knox.signals import token_expired
from rest_framework.exceptions import AuthenticationFailed

from core.security_log import security_event


class ExpiringTokenAuthentication(TokenAuthentication):
    """Knox tokens under the conventional ``Token`` keyword.

    Knox, on every request, reads every token of the account to delete the expired
    ones: an integration account with a hundred tokens paid for a hundred rows on
    each call. Here a request checks only its own token's expiry (an expired token
    is refused and deleted, as knox does); the others expire on their own times and
    are deleted by the daily purge (``api.services.api_tokens_expired_purge``)."""

    keyword = "Token"

    def _cleanup_token(self, auth_token) -> bool:
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            username = auth_token.user.get_username()
            auth_token.delete()
            token_expired.send(sender=self.__class__, username=username, source="auth_token")
            return True
        return False

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
