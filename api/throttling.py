"""The API's rate limit, per token, and what it does when its cache is away.

Counts live in the Django cache (Redis in production) so every process shares them.
If Redis is down, a rate limit is no reason to refuse service: the throttle falls
back to a limit of its own process (the same rate, counted in memory), logs one
warning per FALLBACK_RETRY_SECONDS saying so, and tries Redis again after that.
"""

from __future__ import annotations

import logging
import threading
import time

from django.core.cache import cache as shared_cache
from django.core.cache.backends.locmem import LocMemCache
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

logger = logging.getLogger(__name__)

# While the shared cache is failing, it is not asked again for this long (each request
# would otherwise wait for a refused or timed-out connection), and the warning is
# logged once per period, not once per request.
FALLBACK_RETRY_SECONDS = 30.0


def _cache_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [OSError]
    try:
        from redis.exceptions import RedisError
    except ImportError:  # pragma: no cover - redis is installed with the app
        pass
    else:
        errors.append(RedisError)
    return tuple(errors)


CACHE_ERRORS = _cache_errors()


class _SharedCacheHealth:
    """Whether the shared cache answered lately; one per process, thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self.down_until = 0.0
        self.failures = 0
        self.local = LocMemCache("api-throttle-fallback", {"MAX_ENTRIES": 100_000})

    def usable(self) -> bool:
        return time.monotonic() >= self.down_until

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            self.failures += 1
            if time.monotonic() < self.down_until:
                return  # already warned this period
            self.down_until = time.monotonic() + FALLBACK_RETRY_SECONDS
            failures, self.failures = self.failures, 0
        logger.warning(
            "api_throttle_cache_unavailable: counting rate limits in this process for %ss",
            int(FALLBACK_RETRY_SECONDS),
            extra={
                "event": "api_throttle_cache_unavailable",
                "error": f"{type(exc).__name__}: {exc}",
                "fallback": "per-process limit",
                "retry_in_seconds": FALLBACK_RETRY_SECONDS,
                "failures_since_last_warning": failures,
            },
        )


health = _SharedCacheHealth()


class TokenRateThrottle(SimpleRateThrottle):
    """A rate limit per API token (per user for browser sessions, per IP otherwise).

    A refused request is a 429 with ``Retry-After``. The rate is read from settings
    on each request (not frozen at import), so it can be changed per environment and
    overridden in tests. With the shared cache down, the limit is counted per process
    (module docstring).
    """

    scope = "token"

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view):
        auth = getattr(request, "auth", None)
        token_key = getattr(auth, "token_key", None)
        if token_key:
            ident = f"token:{token_key}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request, view):
        if health.usable():
            self.cache = shared_cache
            try:
                return super().allow_request(request, view)
            except CACHE_ERRORS as exc:
                health.failed(exc)
        self.cache = health.local
        return super().allow_request(request, view)

    def throttle_success(self):
        if self.cache is health.local:
            return super().throttle_success()
        try:
            return super().throttle_success()
        except CACHE_ERRORS as exc:
            # The read worked and the write did not: count this one locally.
            health.failed(exc)
            self.cache = health.local
            return super().throttle_success()
