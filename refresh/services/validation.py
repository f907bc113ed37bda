"""Turning a model's ValidationError into the DomainError the services raise."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from core.errors import DomainError


def raise_validation(exc: ValidationError) -> None:
    """Raise ``exc``'s first field's messages as a DomainError naming that field."""
    field, messages = (
        next(iter(exc.message_dict.items()))
        if hasattr(exc, "error_dict")
        else (
            None,
            exc.messages,
        )
    )
    raise DomainError("; ".join(messages), field=None if field == "__all__" else field) from exc
