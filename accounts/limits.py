"""Rate limits shared by every process: fixed-window counters keyed by scope and subject.

Counters live in the database by default (exact under concurrency: one atomic upsert
per hit) or in Redis when `RATE_LIMIT_STORE=redis` (the default with REDIS_URL): one
pipelined INCR and EXPIRE per hit. Nothing is kept in process memory.
"""

from __future__ import annotations

import hashlib
import ipaddress
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Value, When
from django.http import HttpRequest

from .errors import RateLimited
from .models import RateCounter

HOUR = 3600


@dataclass(frozen=True)
class Limit:
    scope: str
    setting: str  # name of the setting that holds the number of events allowed
    window: int = HOUR

    @property
    def allowed(self) -> int:
        return getattr(settings, self.setting)


OTP_SENDS_PER_IP = Limit("otp-send-ip", "OTP_SENDS_PER_IP_PER_HOUR")
SMS_GLOBAL = Limit("sms-global", "SMS_MAX_PER_HOUR")
STATUS_LOOKUPS_PER_IP = Limit("status-ip", "STATUS_LOOKUPS_PER_IP_PER_HOUR")
LOGIN_FAILURES_PER_IP = Limit("login-fail-ip", "LOGIN_FAILURES_PER_IP_PER_HOUR")


def client_ip(request: HttpRequest) -> str:
    """The client's address: `REMOTE_ADDR`, or, behind `TRUSTED_PROXY_COUNT` proxies,
    the address the outermost trusted proxy saw (X-Forwarded-For, counted from the right).
    """
    remote = request.META.get("REMOTE_ADDR") or "unknown"
    trusted = settings.TRUSTED_PROXY_COUNT
    if trusted <= 0:
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    hops = [hop for hop in hops if hop]
    if len(hops) < trusted:
        return remote
    try:
        return str(ipaddress.ip_address(hops[-trusted]))
    except ValueError:
        return remote


def _key(limit: Limit, subject: str) -> str:
    return hashlib.sha256(f"{limit.scope}\0{subject}".encode()).hexdigest()


def _window_end(limit: Limit, now: float) -> int:
    return (int(now) // limit.window + 1) * limit.window


class DatabaseStore:
    def increment(self, key: str, window_end: int, read: str | None = None) -> tuple[int, None]:
        with transaction.atomic():
            RateCounter.objects.bulk_create(
                [RateCounter(key=key, window_end=window_end, count=0)], ignore_conflicts=True
            )
            RateCounter.objects.filter(key=key).update(
                count=Case(When(window_end=window_end, then=F("count") + 1), default=Value(1)),
                window_end=window_end,
            )
            count = RateCounter.objects.filter(key=key).values_list("count", flat=True).get()
            return count, None

    def get(self, key: str, window_end: int) -> int:
        row = RateCounter.objects.filter(key=key, window_end=window_end).values_list("count")
        return (row.first() or (0,))[0]


class RedisStore:
    """Counters in Redis, through one connection pool per process."""

    _client = None

    @classmethod
    def client(cls):
        if cls._client is None:
            import redis

            cls._client = redis.Redis.from_url(
                settings.REDIS_URL,
                socket_connect_timeout=settings.REDIS_TIMEOUT,
                socket_timeout=settings.REDIS_TIMEOUT,
                health_check_interval=30,
            )
        return cls._client

    def increment(self, key: str, window_end: int, read: str | None = None):
        """Count one hit and, in the same round trip, GET the key `read`."""
        redis_key = f"rl:{key}:{window_end}"
        pipeline = self.client().pipeline(transaction=False)
        pipeline.incr(redis_key)
        pipeline.expireat(redis_key, window_end + 1)
        if read is not None:
            pipeline.get(read)
        count, _, *value = pipeline.execute()
        return count, (value[0] if value else None)

    def get(self, key: str, window_end: int) -> int:
        return int(self.client().get(f"rl:{key}:{window_end}") or 0)


def _store() -> DatabaseStore | RedisStore:
    return RedisStore() if settings.RATE_LIMIT_STORE == "redis" else DatabaseStore()


def hit(limit: Limit, subject: str, *, read: str | None = None) -> bytes | None:
    """Count one event; raise `RateLimited` when it goes over the limit.

    With the Redis store, the value of the Redis key `read` comes back from the same
    round trip (None with the database store, or when the key is not set).
    """
    now = time.time()
    window_end = _window_end(limit, now)
    count, value = _store().increment(_key(limit, subject), window_end, read)
    if count > limit.allowed:
        raise RateLimited(window_end - now, reason=f"{limit.scope} limit", limit=limit.scope)
    return value


def check(limit: Limit, subject: str) -> None:
    """Raise `RateLimited` if the limit is already used up, without counting."""
    now = time.time()
    window_end = _window_end(limit, now)
    if _store().get(_key(limit, subject), window_end) >= limit.allowed:
        raise RateLimited(window_end - now, reason=f"{limit.scope} limit", limit=limit.scope)


def record(limit: Limit, subject: str) -> None:
    """Count one event without refusing it."""
    _store().increment(_key(limit, subject), _window_end(limit, time.time()))


def purge() -> int:
    """Delete counters whose window has closed."""
    deleted, _ = RateCounter.objects.filter(window_end__lt=int(time.time())).delete()
    return deleted
