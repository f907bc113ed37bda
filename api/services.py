"""Writes for the API's own records: tokens and idempotency keys."""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import IntegrityError, OperationalError, connection, transaction
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
    """The outcome of trying to claim an idempotency key.

    ``claimed``: this request owns the key and must run. Otherwise ``record`` is the
    committed row that answers it (its stored response, or a key reused with another
    request), or ``None`` when another request holds the key uncommitted, still
    running, past the wait: the caller answers 409 in progress.
    """

    record: IdempotencyRecord | None
    claimed: bool


def _lock_not_available(exc: OperationalError) -> bool:
    # PostgreSQL's lock_not_available (55P03): lock_timeout ran out.
    return getattr(exc.__cause__, "sqlstate", None) == "55P03"


@contextmanager
def _lock_wait(seconds: float):
    """Wait at most ``seconds`` for a row lock (PostgreSQL), then raise
    lock_not_available; the transaction's own setting is restored after."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('lock_timeout')")
        before = cursor.fetchone()[0]
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{int(seconds * 1000)}ms"])
    yield
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [before])


def idempotency_claim(
    *,
    user,
    token_key: str,
    key: str,
    request_hash: str,
    method: str,
    path: str,
    lock_wait: float = 2.0,
) -> Claim:
    """Insert the key inside the request's own transaction, before its work.

    Must be called inside ``transaction.atomic()``: the claim commits with the work
    and the stored response, or rolls back with them. So a request that dies (its
    process killed, its connection cut) leaves nothing behind: PostgreSQL rolls the
    transaction back when the connection drops, and a retry a moment later runs.

    The unique constraint on (user, token, key) is the lock. A concurrent duplicate's
    insert waits on the first one's uncommitted row: if the first commits, the
    duplicate finds the stored response; if it rolls back, the duplicate's insert
    goes through and it runs. The wait is bounded by ``lock_wait`` seconds, after
    which the duplicate is told the key is in progress (``Claim(None, False)``).

    An expired row is deleted and the claim retried once. A row committed as still
    in progress comes from the previous design (claimed in a transaction of its own);
    the caller decides whether it is stale, and releases it with
    ``idempotency_release``.
    """
    now = timezone.now()
    for _attempt in range(2):
        try:
            # A savepoint: a refused insert leaves the request's transaction usable.
            with transaction.atomic(), _lock_wait(lock_wait):
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
        except OperationalError as exc:
            if _lock_not_available(exc):
                return Claim(record=None, claimed=False)
            raise
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
    """Store the response the key will replay, in the request's transaction, so the
    work, the claim and its response commit together."""
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        state=IdempotencyRecord.State.COMPLETED,
        response_status=status,
        response_body=body,
        response_headers=headers,
    )


def idempotency_release(*, record: IdempotencyRecord) -> None:
    """Forget a committed in-progress claim (left by the previous design's crashed
    request, whose writes were rolled back), so a retry can run."""
    IdempotencyRecord.objects.filter(
        pk=record.pk, state=IdempotencyRecord.State.IN_PROGRESS
    ).delete()


def idempotency_records_purge(*, now=None) -> int:
    """Delete expired keys (run daily; expired keys are also replaced on reuse)."""
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted


def api_tokens_expired_purge(*, now=None) -> int:
    """Delete tokens past their expiry (run daily: a request checks only its own
    token's expiry, ``api.authentication``). Returns how many."""
    expired = AuthToken.objects.filter(expiry__isnull=False, expiry__lt=now or timezone.now())
    with transaction.atomic():
        tokens = list(expired.select_related("user").values_list("token_key", "user__username"))
        deleted, _ = expired.delete()
    for token_key, username in tokens:
        security_event(
            "api_token_expired",
            user=username,
            outcome="allowed",
            detail={"token": token_key, "removed": "expired"},
        )
    return deleted
