"""Writes for the API's own records: tokens and idempotency keys."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone
from knox.models import AuthToken

from api.models import ApiTokenLabel, IdempotencyRecord
from core.errors import DomainError
from core.security_log import security_event

IDEMPOTENCY_TTL = dt.timedelta(hours=24)


def api_token_create(*, user, expires_in_days: int | None = None, description: str = ""):
    """Create a knox token for an integration account; returns ``(token, key)``.

    Only a hash of the key is stored, so the key is available this once.
    """
    if expires_in_days is not None and expires_in_days <= 0:
        raise DomainError("The expiry must be at least one day.", field="expires_in")
    if not user.is_active:
        raise DomainError(f"User {user.get_username()} is inactive.", field="username")
    expiry = dt.timedelta(days=expires_in_days) if expires_in_days is not None else None
    with transaction.atomic():
        token, key = AuthToken.objects.create(user=user, expiry=expiry)
        if description:
            label = ApiTokenLabel(token=token, description=description)
            label.full_clean()
            label.save()
    security_event(
        "api_token_created",
        user=user,
        outcome="allowed",
        detail={
            "token": token.token_key,
            "expiry": token.expiry.isoformat() if token.expiry else "never",
            "description": description,
        },
    )
    return token, key


def api_token_revoke(*, user, token_prefix: str | None = None, all_tokens: bool = False) -> int:
    """Delete a user's token(s); knox then refuses the key at once. Returns how many."""
    if not all_tokens and not token_prefix:
        raise DomainError("Name a token prefix or ask for all tokens.", field="token_prefix")
    tokens = AuthToken.objects.filter(user=user)
    if not all_tokens:
        tokens = tokens.filter(token_key__startswith=token_prefix)
    with transaction.atomic():
        count = tokens.count()
        if not all_tokens and count > 1:
            raise DomainError(
                f"Prefix {token_prefix!r} matches {count} tokens; give more characters.",
                field="token_prefix",
            )
        prefixes = sorted(tokens.values_list("token_key", flat=True))
        tokens.delete()
    security_event(
        "api_token_revoked",
        user=user,
        outcome="allowed",
        detail={"tokens": ", ".join(prefixes), "count": count},
    )
    return count


@dataclass(frozen=True)
class Claim:
    """The outcome of trying to claim an idempotency key."""

    record: IdempotencyRecord
    claimed: bool  # True: this request owns the key and must run


def idempotency_claim(
    *, user, token_key: str, key: str, request_hash: str, method: str, path: str
) -> Claim:
    """Insert the key in its own transaction before the request runs.

    The unique constraint on (user, token, key) makes the insert the lock: of
    two concurrent duplicates exactly one inserts; the other finds the row and
    is answered from it (in progress, mismatch, or the stored response). An
    expired row is deleted and the claim retried once.
    """
    now = timezone.now()
    for _attempt in range(2):
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    user=user,
                    token_key=token_key,
                    key=key,
                    request_hash=request_hash,
                    method=method,
                    path=path[:500],
                    expires_at=now + IDEMPOTENCY_TTL,
                )
            return Claim(record=record, claimed=True)
        except IntegrityError:
            existing = IdempotencyRecord.objects.filter(
                user=user, token_key=token_key, key=key
            ).first()
            if existing is None:  # deleted between our insert and read: try again
                continue
            if existing.expires_at <= now:
                IdempotencyRecord.objects.filter(pk=existing.pk, expires_at__lte=now).delete()
                continue
            return Claim(record=existing, claimed=False)
    raise DomainError("The idempotency key could not be claimed; retry.", code="conflict")


def idempotency_complete(*, record: IdempotencyRecord, status: int, body, headers: dict) -> None:
    """Store the response the key will replay. Runs in the request's transaction
    when the request succeeded, so the write and its record commit together."""
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        state=IdempotencyRecord.State.COMPLETED,
        response_status=status,
        response_body=body,
        response_headers=headers,
    )


def idempotency_release(*, record: IdempotencyRecord) -> None:
    """Forget a claim whose request crashed (nothing was written), so a retry can run."""
    IdempotencyRecord.objects.filter(
        pk=record.pk, state=IdempotencyRecord.State.IN_PROGRESS
    ).delete()


def idempotency_records_purge(*, now=None) -> int:
    """Delete expired keys (run daily; expired keys are also replaced on reuse)."""
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
