"""Token authentication for integration accounts.

Tokens come from django-rest-knox: only a hash of each key is stored, a key is
shown once when created, and a token can carry an expiry and be revoked by
deleting it. Clients send ``Authorization: Token <key>``.
"""

from knox.auth import TokenAuthentication


class ExpiringTokenAuthentication(TokenAuthentication):
    """Knox tokens under the conventional ``Token`` keyword."""

    keyword = "Token"
