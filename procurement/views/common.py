"""What the procurement pages share: who may use them, the page marking, a domain
refusal as a GOV.UK form error, and strict query parameters on downloads."""

from __future__ import annotations

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.http import HttpResponseBadRequest

from accounts.roles import Role, can_see_commercial
from core.errors import DomainError
from core.exports import classification

PROCUREMENT_ROLES = (Role.FINANCE, Role.COMMERCIAL, Role.ASSET_MANAGER)


def require_commercial(request) -> None:
    if not can_see_commercial(request.user):
        raise PermissionDenied("Commercial figures are for finance and commercial officers.")


def marking(request) -> str:
    return classification(commercial=can_see_commercial(request.user))


def error_text(exc) -> str:
    if isinstance(exc, DomainError):
        return exc.message
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{k}: {' '.join(v)}" if k != "__all__" else " ".join(v)
            for k, v in getattr(exc, "message_dict", {"__all__": exc.messages}).items()
        )
    return str(exc)


def add_refusal(form, exc) -> None:
    """Put a service's refusal on the form: on the field it names when the form has
    it, otherwise as an error of the whole form (both reach the error summary)."""
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        for name, errors in exc.message_dict.items():
            target = name if name in form.fields else None
            for message in errors:
                named = target or name == NON_FIELD_ERRORS
                form.add_error(target, message if named else f"{name}: {message}")
        return
    field = getattr(exc, "field", None)
    form.add_error(field if field in form.fields else None, error_text(exc))


def unknown_parameters(request, allowed: set[str]) -> HttpResponseBadRequest | None:
    """A 400 naming any query parameter a download does not take, rather than silently
    ignoring it and returning everything."""
    unknown = sorted(set(request.GET) - allowed)
    if not unknown:
        return None
    names = ", ".join(unknown)
    takes = ", ".join(sorted(allowed)) or "no parameters"
    return HttpResponseBadRequest(
        f"Unknown parameter: {names}. This download takes {takes}.",
        content_type="text/plain; charset=utf-8",
    )


def posted(request, *, files: bool = False):
    """The submitted data on a POST (even an empty one, so a form sent blank shows
    its errors), None on a GET (the form is shown unbound)."""
    if request.method != "POST":
        return None
    return request.FILES if files else request.POST
