"""``Idempotency-Key`` for POST endpoints: a retry replays the first response.

Used as a decorator on a DRF view's ``post`` (or an action), so authentication,
permissions and throttling have already run and keys belong to the caller:

    @idempotent
    def post(self, request, ...): ...

Flow: hash method + path + raw body; claim the key by inserting a row in its
own transaction (the unique constraint is the lock, so concurrent duplicates
cannot both run); run the handler and store its response in one transaction
with the handler's writes, so either both commit or neither does. A request
that crashes releases its claim; nothing it wrote survived the rollback.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json

from django.db import transaction
from django.http.request import RawPostDataException
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from api import services
from api.exceptions import Conflict, RequestValidationError
from api.models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
# A claim still "in progress" after this long belongs to a request that died
# without releasing it (its writes were rolled back with it), so it may be reclaimed.
STALE_CLAIM_AFTER = dt.timedelta(minutes=10)
# Headers worth replaying; Content-Type and Vary are added again by the renderer.
_SKIP_HEADERS = {"content-type", "vary", "allow", "content-length"}


def request_fingerprint(request) -> str:
    try:
        body = request._request.body
    except RawPostDataException:  # the stream was read already: hash the parsed data
        body = json.dumps(request.data, sort_keys=True, cls=JSONEncoder).encode()
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(b"\n")
    digest.update(request.get_full_path().encode())
    digest.update(b"\n")
    digest.update(body)
    return digest.hexdigest()


def _validated_key(raw: str) -> str:
    key = raw.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise RequestValidationError(
            {HEADER: [f"Give 1 to {MAX_KEY_LENGTH} printable characters (a UUID is ideal)."]}
        )
    return key


def _replay(record: IdempotencyRecord) -> Response:
    headers = dict(record.response_headers or {})
    headers[REPLAY_HEADER] = "true"
    return Response(record.response_body, status=record.response_status, headers=headers)


def _store(record: IdempotencyRecord, response) -> None:
    body = getattr(response, "data", None)
    if body is not None:
        body = json.loads(json.dumps(body, cls=JSONEncoder))
    headers = {k: v for k, v in response.items() if k.lower() not in _SKIP_HEADERS}
    services.idempotency_complete(
        record=record, status=response.status_code, body=body, headers=headers
    )


def idempotent(handler):
    """Make a POST handler idempotent when the client sends ``Idempotency-Key``."""

    @functools.wraps(handler)
    def wrapper(self, request, *args, **kwargs):
        raw_key = request.headers.get(HEADER)
        if raw_key is None:
            return handler(self, request, *args, **kwargs)
        key = _validated_key(raw_key)
        fingerprint = request_fingerprint(request)
        token_key = getattr(request.auth, "token_key", "") or ""
        claim_args = {
            "user": request.user,
            "token_key": token_key,
            "key": key,
            "request_hash": fingerprint,
            "method": request.method,
            "path": request.get_full_path(),
        }
        claim = services.idempotency_claim(**claim_args)
        record = claim.record
        if not claim.claimed and (
            record.request_hash == fingerprint
            and record.state == IdempotencyRecord.State.IN_PROGRESS
            and record.created_at < timezone.now() - STALE_CLAIM_AFTER
        ):
            services.idempotency_release(record=record)
            claim = services.idempotency_claim(**claim_args)
            record = claim.record
        if not claim.claimed:
            if record.request_hash != fingerprint:
                raise Conflict(
                    "This Idempotency-Key was used with a different request "
                    "(method, path or body); use a new key for a new request.",
                    code="idempotency_key_reused",
                )
            if record.state == IdempotencyRecord.State.IN_PROGRESS:
                raise Conflict(
                    "A request with this Idempotency-Key is still in progress; retry later.",
                    code="idempotency_in_progress",
                )
            return _replay(record)
        try:
            # The handler's writes and the stored response commit together.
            with transaction.atomic():
                response = handler(self, request, *args, **kwargs)
                if response.status_code < 500:
                    _store(record, response)
        except Exception as exc:
            # Everything the handler wrote has been rolled back; record the error
            # response (a 4xx is an answer too), or release the key on a crash.
            try:
                response = self.handle_exception(exc)
            except Exception:
                services.idempotency_release(record=record)
                raise
            if response.status_code < 500:
                _store(record, response)
            else:
                services.idempotency_release(record=record)
            return response
        if response.status_code >= 500:
            services.idempotency_release(record=record)
        return response

    wrapper.idempotent = True
    return wrapper
