"""What every disposal page shares: who may use it, how it is marked, and how an
export is answered (marked, with the ``X-Classification`` header that
``core.middleware.SecurityEventMiddleware`` logs for commercial downloads)."""

from __future__ import annotations

import re
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse

from accounts.roles import Role, can_see_commercial, require_role
from core.exports import classification
from core.middleware import CLASSIFICATION_HEADER

BOARD_ROLES = (Role.ASSET_MANAGER,)
READ_ROLES = (Role.ASSET_MANAGER, Role.FINANCE, Role.COMMERCIAL)
CUSTODY_ROLES = (Role.ASSET_MANAGER, Role.FINANCE, Role.COMMERCIAL, Role.UNIT_VIEWER)
SIGN_OFF_ROLES = (Role.FINANCE, Role.COMMERCIAL)
RULE_ROLES = (Role.FINANCE,)
# Rows per page of a board queue (read at call time: tests page with a small one).
BOARD_PAGE_SIZE = 200


def role_required(*roles):
    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(request, *args, **kwargs):
            require_role(request.user, *roles)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def marking(user, shows_values: bool) -> str:
    """OFFICIAL-SENSITIVE [COMMERCIAL] when values are shown (only to commercial roles)."""
    return classification(commercial=shows_values and can_see_commercial(user))


def marked(response: HttpResponse, mark: str) -> HttpResponse:
    """Every disposals export says how it is marked, in its body and in the header."""
    response[CLASSIFICATION_HEADER] = mark
    return response


def safe_filename(name: str) -> str:
    """A download's file name from stored identifiers (an asset tag may hold anything
    an import put there): letters, digits, dots, dashes and underscores only."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "download"


def download(body: bytes, *, filename: str, content_type: str, mark: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{safe_filename(filename)}"'
    return marked(response, mark)


def form_errors(*forms) -> list[tuple[str, str]]:
    """(field, message) pairs for the GOV.UK error summary, fields in form order."""
    errors = []
    for form in forms:
        if form is None or not form.errors:
            continue
        for name in [*form.fields, "__all__"]:
            for message in form.errors.get(name, []):
                errors.append((name if name != "__all__" else "", message))
    return errors
