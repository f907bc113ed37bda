"""Security events, one JSON object per line on their own logger, ``security``.

Each line carries: time (UTC, ISO 8601), event, user, ip, path, outcome, detail.
Events: ``login``, ``login_failed``, ``lockout``, ``permission_denied``,
``api_token_created``, ``api_token_used``, ``api_token_rejected``,
``api_token_revoked``, ``api_token_expired`` (deleted by the daily purge),
``commercial_export``. settings.LOGGING sends the logger to
its own handler (stderr, or SECURITY_LOG_FILE), never mixed into the app log.

Nothing secret is logged: no passwords, no token keys (only a token's public
prefix, the one ``create_api_token`` prints), no request bodies.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

logger = logging.getLogger("security")

# Long values (a pasted password in the username box, a huge path) are cut: the log is
# a record of what happened, not a copy of the input.
_MAX_TEXT = 200


def _clip(value) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + "…"


def client_ip(request) -> str:
    """The client's address as the WSGI server gives it (REMOTE_ADDR).

    Behind a proxy, configure the WSGI server to put the client's address there
    (gunicorn: --forwarded-allow-ips with a proxy that sets it); a header such as
    X-Forwarded-For is not trusted here because any client can send one.
    """
    if request is None:
        return ""
    return request.META.get("REMOTE_ADDR", "")


def _username(user) -> str:
    if user is None:
        return ""
    if isinstance(user, str):
        return user
    if not getattr(user, "is_authenticated", False):
        return ""
    return user.get_username()


def security_event(
    event: str,
    *,
    outcome: str,
    request=None,
    user=None,
    detail: dict | None = None,
    level: int = logging.INFO,
) -> None:
    """Write one security event. ``user`` defaults to the request's user; a string is
    taken as a username as typed (a failed login)."""
    if user is None and request is not None:
        user = getattr(request, "user", None)
    fields = {
        "event": event,
        "user": _clip(_username(user)),
        "ip": client_ip(request),
        "path": _clip(getattr(request, "path", "")) if request is not None else "",
        "outcome": outcome,
        "detail": {key: _clip(value) for key, value in (detail or {}).items()},
    }
    logger.log(level, "%s %s", event, outcome, extra={"security": fields})


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line. json.dumps escapes control characters, so a newline
    in a username cannot forge a second log line."""

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "security", None)
        if fields is None:  # a plain message sent to the security logger
            fields = {
                "event": record.getMessage(),
                "user": "",
                "ip": "",
                "path": "",
                "outcome": "",
                "detail": {},
            }
        time = dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat()
        return json.dumps({"time": time, **fields}, default=str, sort_keys=False)
