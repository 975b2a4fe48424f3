"""Rate limits shared by every process: fixed-window counters keyed by scope and subject.

Counters live in the database by default (exact under concurrency: one atomic upsert
per hit) or in Redis when `RATE_LIMIT_STORE=redis` (the default with REDIS_URL), where
their commands ride the request's `RoundTrip`. Nothing is kept in process memory.
A per-client limit counts a client by its network (`accounts.networks.network_of`).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Value, When

from accounts.abuse import networks
from accounts.errors import RateLimited
from accounts.models import RateCounter
from project.redis_client import Reply, RoundTrip

HOUR = 3600


@dataclass(frozen=True)
class Limit:
    scope: str
    setting: str  # name of the setting that holds the number of events allowed
    window: int = HOUR
    per_client: bool = False  # the subject is a client address, counted by its network

    @property
    def allowed(self) -> int:
        return getattr(settings, self.setting)


OTP_SENDS_PER_IP = Limit("otp-send-ip", "OTP_SENDS_PER_IP_PER_HOUR", per_client=True)
SMS_GLOBAL = Limit("sms-global", "SMS_MAX_PER_HOUR")
STATUS_LOOKUPS_PER_IP = Limit("status-ip", "STATUS_LOOKUPS_PER_IP_PER_HOUR", per_client=True)
# A number's codes asked for from one client network (its share of the number's hour).
OTP_SENDS_PER_NUMBER_NETWORK = Limit("number-network", "OTP_MAX_SENDS_PER_HOUR")
# Sends to numbers without an account (allowed: the unreserved share, see flows.send_code).
SMS_NEW_NUMBERS = Limit("sms-new-numbers", "SMS_MAX_PER_HOUR")
SMS_REGION = Limit("sms-region", "SMS_MAX_PER_HOUR")  # allowed: SMS_MAX_PER_HOUR_BY_REGION
LOGIN_FAILURES_PER_IP = Limit("login-fail-ip", "LOGIN_FAILURES_PER_IP_PER_HOUR", per_client=True)


def _key(limit: Limit, subject: str) -> str:
    return hashlib.sha256(f"{limit.scope}\0{subject}".encode()).hexdigest()


def _window_end(limit: Limit, now: float) -> int:
    return (int(now) // limit.window + 1) * limit.window


class DatabaseStore:
    """Counters in the `RateCounter` table; each command runs at once."""

    def increment(self, trip: RoundTrip, key: str, window_end: int) -> Reply:
        with transaction.atomic():
            RateCounter.objects.bulk_create(
                [RateCounter(key=key, window_end=window_end, count=0)], ignore_conflicts=True
            )
            RateCounter.objects.filter(key=key).update(
                count=Case(When(window_end=window_end, then=F("count") + 1), default=Value(1)),
                window_end=window_end,
            )
            return Reply(RateCounter.objects.values_list("count", flat=True).get(key=key))

    def get(self, trip: RoundTrip, key: str, window_end: int) -> Reply:
        row = RateCounter.objects.filter(key=key, window_end=window_end).values_list("count")
        return Reply((row.first() or (0,))[0])

    def decrement(self, trip: RoundTrip, key: str, window_end: int) -> None:
        RateCounter.objects.filter(key=key, window_end=window_end, count__gt=0).update(
            count=F("count") - 1
        )

    def set_once(self, trip: RoundTrip, key: str, until: int) -> Reply:
        """Reply True to the first caller since the marker `key` was last live."""
        with transaction.atomic():
            RateCounter.objects.filter(key=key, window_end__lt=time.time()).delete()
            RateCounter.objects.bulk_create(
                [RateCounter(key=key, window_end=until, count=0)], ignore_conflicts=True
            )
            # The row's lock lets one caller move it from 0 to 1.
            return Reply(RateCounter.objects.filter(key=key, count=0).update(count=1) == 1)


class RedisStore:
    """Counters in Redis: their commands join the round trip they are given."""

    def increment(self, trip: RoundTrip, key: str, window_end: int) -> Reply:
        return trip.count(f"rl:{key}:{window_end}", 1, window_end + 1)

    def get(self, trip: RoundTrip, key: str, window_end: int) -> Reply:
        return trip.read(f"rl:{key}:{window_end}")

    def decrement(self, trip: RoundTrip, key: str, window_end: int) -> None:
        trip.count(f"rl:{key}:{window_end}", -1, window_end + 1)

    def set_once(self, trip: RoundTrip, key: str, until: int) -> Reply:
        return trip.add("SET", f"once:{key}", 1, "NX", "EXAT", until)


def _store() -> DatabaseStore | RedisStore:
    return RedisStore() if settings.RATE_LIMIT_STORE == "redis" else DatabaseStore()


@dataclass(frozen=True)
class Count:
    """A counter's value, read or counted in a round trip; readable once it was sent."""

    limit: Limit
    subject: str
    window_end: int
    at: float
    reply: Reply
    counted: bool  # True: this event was counted; False: the count was only read

    @property
    def count(self) -> int:
        return int(self.reply.value or 0)

    def refusal(self, allowed: int | None = None) -> RateLimited | None:
        """The `RateLimited` to raise: the counted event went over the limit (or over
        `allowed`), or the limit was already used up when read."""
        allowed = self.limit.allowed if allowed is None else allowed
        over = self.count > allowed if self.counted else self.count >= allowed
        if not over:
            return None
        scope = self.limit.scope
        return RateLimited(self.window_end - self.at, reason=f"{scope} limit", limit=scope)

    def enforce(self, allowed: int | None = None) -> None:
        if refusal := self.refusal(allowed):
            raise refusal

    @property
    def charge(self) -> list[str | int]:
        """The counter this event was counted in, as stored with a queued send
        (`give_back` takes it back): its hashed key and window, never the subject."""
        return [_key(self.limit, self.subject), self.window_end]

    def refund(self, trip: RoundTrip | None = None) -> None:
        """Take the counted event back (it led to nothing the limit is about): in
        `trip`, or in a round trip of its own."""
        own = trip is None
        trip = trip or RoundTrip()
        _store().decrement(trip, _key(self.limit, self.subject), self.window_end)
        if own:
            trip.send()


def refund(*counts: Count | None) -> None:
    """Take back every counted event of `counts`, in one round trip."""
    trip = RoundTrip()
    for counted in counts:
        if counted is not None and counted.counted:
            counted.refund(trip)
    trip.send()


def give_back(charges: list) -> None:
    """Take back events counted by an earlier request, as its `Count.charge`s, in one
    round trip. A window that has closed since is left alone (its counter is gone)."""
    trip = RoundTrip()
    store, now = _store(), time.time()
    for key, window_end in charges:
        if isinstance(key, str) and isinstance(window_end, int) and window_end > now:
            store.decrement(trip, key, window_end)
    trip.send()


@dataclass(frozen=True)
class Sliding:
    """A count over a sliding window, estimated from the current fixed window and the
    part of the previous one that still overlaps it."""

    current: Count
    previous: Count

    @property
    def count(self) -> float:
        window = self.current.limit.window
        overlap = (self.current.window_end - self.current.at) / window
        return self.current.count + self.previous.count * overlap


def sliding(trip: RoundTrip, limit: Limit, subject: str, *, counted: bool) -> Sliding:
    """A sliding count of (limit, subject) in `trip`: this event counted, or only read."""
    current = (count if counted else peek)(trip, limit, subject)
    now = current.at - limit.window
    subject = _subject(limit, subject)
    end = current.window_end - limit.window
    reply = _store().get(trip, _key(limit, subject), end)
    return Sliding(current, Count(limit, subject, end, now, reply, counted=False))


def once(trip: RoundTrip, name: str, seconds: int) -> Reply:
    """In `trip`: a reply that is True for the first caller with `name` within
    `seconds`, False for every other (a token used once, a warning logged once)."""
    key = hashlib.sha256(f"once\0{name}".encode()).hexdigest()
    return _store().set_once(trip, key, int(time.time()) + seconds)


def _subject(limit: Limit, subject: str) -> str:
    return networks.network_of(subject) if limit.per_client else subject


def count(trip: RoundTrip, limit: Limit, subject: str) -> Count:
    """Count one event against (limit, subject) in `trip`; nothing is refused here."""
    subject = _subject(limit, subject)
    now = time.time()
    end = _window_end(limit, now)
    reply = _store().increment(trip, _key(limit, subject), end)
    return Count(limit, subject, end, now, reply, counted=True)


def peek(trip: RoundTrip, limit: Limit, subject: str) -> Count:
    """Read the count of (limit, subject) in `trip`, without counting."""
    subject = _subject(limit, subject)
    now = time.time()
    end = _window_end(limit, now)
    reply = _store().get(trip, _key(limit, subject), end)
    return Count(limit, subject, end, now, reply, counted=False)


def hit(limit: Limit, subject: str) -> None:
    """Count one event in a round trip of its own; raise `RateLimited` over the limit."""
    trip = RoundTrip()
    counted = count(trip, limit, subject)
    trip.send()
    counted.enforce()


def purge() -> int:
    """Delete counters whose window has closed."""
    deleted, _ = RateCounter.objects.filter(window_end__lt=int(time.time())).delete()
    return deleted
