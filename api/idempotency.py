"""``Idempotency-Key`` for POST endpoints: a retry replays the first response.

Used as a decorator on a DRF view's ``post`` (or an action), so authentication,
permissions and throttling have already run and keys belong to the caller:

    @idempotent
    def post(self, request, ...): ...

Flow: hash method + path + raw body; in ONE transaction, claim the key (insert its
row), run the handler (in a savepoint) and store its response. Claim, writes and
stored response commit together or not at all.

Why the claim lives in the work's transaction rather than in a transaction of its
own with a lease renewed while the request runs: a claim of its own must be
released by someone when its request dies, and a ``kill -9`` of a gunicorn worker
releases nothing: the key stayed ``in progress`` for STALE_CLAIM_AFTER (ten minutes
of ``409 idempotency_in_progress`` to every retry). A lease would shorten that to
its length, but needs a heartbeat thread per request and still answers 409 until
it lapses. Inside the work's transaction the claim is an uncommitted row: when the
process dies its connection drops and PostgreSQL rolls the transaction back at
once, claim included, so a retry a second later runs the request exactly once.
Nothing is left to reap. The cost: a concurrent duplicate waits on the first
request's row lock (up to LOCK_WAIT seconds, then 409 in progress), which is
exactly the time the first is really running.

A handler that raises has its writes rolled back to the savepoint; a 4xx answer is
still stored (an error is an answer too), a 5xx rolls the claim back with the rest.
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
# A claim committed as "in progress" was written by the previous design (claimed in a
# transaction of its own); after this long its request is dead and it is reclaimed.
# The current design never commits a claim in progress.
STALE_CLAIM_AFTER = dt.timedelta(minutes=10)
# How long a duplicate waits for the first request with its key to commit or roll
# back before it is answered 409 in progress (seconds).
LOCK_WAIT = 2.0
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


def _run(view, handler, record, request, *args, **kwargs):
    """Run the handler in a savepoint of the claim's transaction and store its answer.

    A 5xx (returned or raised) marks the whole transaction for rollback: the claim
    goes with the handler's writes and a retry runs again.
    """
    try:
        with transaction.atomic():
            response = handler(view, request, *args, **kwargs)
    except Exception as exc:
        # The handler's writes were rolled back to the savepoint; a 4xx is an answer
        # too and is stored. handle_exception raises what it cannot answer, and the
        # claim's transaction rolls back with it.
        response = view.handle_exception(exc)
    if response.status_code >= 500:
        transaction.set_rollback(True)
    else:
        _store(record, response)
    return response


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
        with transaction.atomic():
            claim = services.idempotency_claim(**claim_args, lock_wait=LOCK_WAIT)
            record = claim.record
            if (
                record is not None
                and not claim.claimed
                and record.request_hash == fingerprint
                and record.state == IdempotencyRecord.State.IN_PROGRESS
                and record.created_at < timezone.now() - STALE_CLAIM_AFTER
            ):
                services.idempotency_release(record=record)
                claim = services.idempotency_claim(**claim_args, lock_wait=LOCK_WAIT)
                record = claim.record
            if claim.claimed:
                return _run(self, handler, record, request, *args, **kwargs)
        if record is None or (
            record.request_hash == fingerprint
            and record.state == IdempotencyRecord.State.IN_PROGRESS
        ):
            raise Conflict(
                "A request with this Idempotency-Key is still in progress; retry later.",
                code="idempotency_in_progress",
            )
        if record.request_hash != fingerprint:
            raise Conflict(
                "This Idempotency-Key was used with a different request "
                "(method, path or body); use a new key for a new request.",
                code="idempotency_key_reused",
            )
        return _replay(record)

    wrapper.idempotent = True
    return wrapper
