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
    def increment(self, counters: list[tuple[str, int]], read: str | None = None):
        """Count one hit on each (key, window end); `read` is for the Redis store."""
        return [self._increment(key, window_end) for key, window_end in counters], None

    @staticmethod
    def _increment(key: str, window_end: int) -> int:
        with transaction.atomic():
            RateCounter.objects.bulk_create(
                [RateCounter(key=key, window_end=window_end, count=0)], ignore_conflicts=True
            )
            RateCounter.objects.filter(key=key).update(
                count=Case(When(window_end=window_end, then=F("count") + 1), default=Value(1)),
                window_end=window_end,
            )
            return RateCounter.objects.filter(key=key).values_list("count", flat=True).get()

    def decrement(self, key: str, window_end: int) -> None:
        RateCounter.objects.filter(key=key, window_end=window_end, count__gt=0).update(
            count=F("count") - 1
        )

    def get(self, key: str, window_end: int, also_set: tuple | None = None) -> int:
        """The count of (key, window end); `also_set` is for the Redis store."""
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

    def increment(self, counters: list[tuple[str, int]], read: str | None = None):
        """Count one hit on each (key, window end) and, in the same round trip, GET the
        key `read`: ([counts], value)."""
        pipeline = self.client().pipeline(transaction=False)
        for key, window_end in counters:
            pipeline.incr(f"rl:{key}:{window_end}")
            pipeline.expireat(f"rl:{key}:{window_end}", window_end + 1)
        if read is not None:
            pipeline.get(read)
        results = pipeline.execute()
        value = results[-1] if read is not None else None
        return results[0 : 2 * len(counters) : 2], value

    def decrement(self, key: str, window_end: int) -> None:
        pipeline = self.client().pipeline(transaction=False)
        pipeline.decr(f"rl:{key}:{window_end}")
        pipeline.expireat(f"rl:{key}:{window_end}", window_end + 1)  # gone if it was gone
        pipeline.execute()

    def get(self, key: str, window_end: int, also_set: tuple | None = None) -> int:
        """The count of (key, window end); `also_set`, a (key, value, seconds) SET, goes
        in the same round trip."""
        if also_set is None:
            return int(self.client().get(f"rl:{key}:{window_end}") or 0)
        other_key, value, seconds = also_set
        pipeline = self.client().pipeline(transaction=False)
        pipeline.get(f"rl:{key}:{window_end}")
        pipeline.set(other_key, value, ex=seconds)
        return int(pipeline.execute()[0] or 0)


def _store() -> DatabaseStore | RedisStore:
    return RedisStore() if settings.RATE_LIMIT_STORE == "redis" else DatabaseStore()


@dataclass(frozen=True)
class Charge:
    """One counted event."""

    limit: Limit
    subject: str
    window_end: int
    count: int
    at: float

    def refusal(self) -> RateLimited | None:
        """The `RateLimited` to raise when this event went over the limit."""
        if self.count <= self.limit.allowed:
            return None
        scope = self.limit.scope
        return RateLimited(self.window_end - self.at, reason=f"{scope} limit", limit=scope)

    def refund(self) -> None:
        """Take the event back (it led to nothing the limit is about)."""
        _store().decrement(_key(self.limit, self.subject), self.window_end)


def charge(*events: tuple[Limit, str]) -> list[Charge]:
    """Count one event against each (limit, subject), in one round trip with Redis.
    Nothing is refused here: see `Charge.refusal`."""
    now = time.time()
    ends = [_window_end(limit, now) for limit, _ in events]
    counts, _ = _store().increment(
        [(_key(limit, subject), end) for (limit, subject), end in zip(events, ends, strict=True)]
    )
    return [
        Charge(limit, subject, end, count, now)
        for (limit, subject), end, count in zip(events, ends, counts, strict=True)
    ]


def hit(limit: Limit, subject: str, *, read: str | None = None) -> bytes | None:
    """Count one event; raise `RateLimited` when it goes over the limit.

    With the Redis store, the value of the Redis key `read` comes back from the same
    round trip (None with the database store, or when the key is not set).
    """
    now = time.time()
    window_end = _window_end(limit, now)
    (count,), value = _store().increment([(_key(limit, subject), window_end)], read)
    refusal = Charge(limit, subject, window_end, count, now).refusal()
    if refusal is not None:
        raise refusal
    return value


def check(limit: Limit, subject: str, *, also_set: tuple[str, bytes, int] | None = None) -> None:
    """Raise `RateLimited` if the limit is already used up, without counting.

    With the Redis store, the Redis SET `also_set` (key, value, seconds) is made in the
    same round trip (the database store has no Redis, and no status cache to mark).
    """
    now = time.time()
    window_end = _window_end(limit, now)
    if _store().get(_key(limit, subject), window_end, also_set) >= limit.allowed:
        raise RateLimited(window_end - now, reason=f"{limit.scope} limit", limit=limit.scope)


def record(limit: Limit, subject: str) -> None:
    """Count one event without refusing it."""
    _store().increment([(_key(limit, subject), _window_end(limit, time.time()))])


def purge() -> int:
    """Delete counters whose window has closed."""
    deleted, _ = RateCounter.objects.filter(window_end__lt=int(time.time())).delete()
    return deleted
