"""A short-lived cache of each number's status in Redis, for `userStatus`.

The entry is read in the same round trip (`redis_client.RoundTrip`) as the per-IP
counter, so a cached status costs one trip to Redis and none to the database. Every
change to an account (sign-up, setPassword, deactivation, deletion, any admin edit)
replaces its entry with a marker for `MARK_SECONDS`, when it is made and again when it
commits; a code login, which may create the account, is `mark_changing` before its
statement instead, in the round trip that checks the client's failure budget. Readers
cache what they read from the database only with SET NX, so a read that began before the
change cannot put the old status back while the marker stands. Whatever is still missed
(a change made while Redis was unreachable) lasts at most `STATUS_CACHE_SECONDS`. Keys
are keyed hashes of the number, so Redis holds no list of numbers.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.hashers import is_password_usable
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save
from django.utils.encoding import force_bytes

from accounts.errors import OUTAGES
from accounts.sql import user as user_sql
from project.redis_client import Reply, RoundTrip, client

logger = logging.getLogger("accounts")

MISSING, CODE_ONLY, PASSWORD = b"0", b"1", b"2"
ENTRIES = (MISSING, CODE_ONLY, PASSWORD)
CHANGED = b"-"  # the marker: changed a moment ago, ask the database
# Far longer than a look-up takes between its database read and its SET NX.
MARK_SECONDS = 5


def enabled() -> bool:
    return settings.RATE_LIMIT_STORE == "redis" and settings.STATUS_CACHE_SECONDS > 0


def key(e164: str) -> str | None:
    """The Redis key of a number's entry; None when the cache is off."""
    if not enabled():
        return None
    digest = hashlib.blake2b(
        e164.encode(), key=force_bytes(settings.SECRET_KEY)[:64], digest_size=16
    ).hexdigest()
    return f"status:{digest}"


def entry(password: str | None) -> bytes:
    """What is cached for an account's stored password (None: no account)."""
    if password is None:
        return MISSING
    return PASSWORD if is_password_usable(password) else CODE_ONLY


@dataclass(frozen=True)
class Lookup:
    """A number's cached entry, asked for in a round trip (None until it is sent, or
    when the cache is off)."""

    redis_key: str | None
    reply: Reply

    @property
    def value(self) -> bytes | None:
        return self.reply.value

    def entry(self, e164: str) -> bytes:
        """The number's entry: the cached one, or one read from the database (and
        remembered)."""
        found = self.value
        if found not in ENTRIES:
            found = entry(user_sql.password_of(e164))
            self.remember(found)
        return found

    def remember(self, value: bytes) -> None:
        """Cache a status just read from the database, unless a newer entry is there."""
        if self.redis_key is None:
            return
        try:
            client().set(self.redis_key, value, ex=settings.STATUS_CACHE_SECONDS, nx=True)
        except OUTAGES as error:  # the answer stands; only the next look-up misses the cache
            logger.warning("Status cache not written: %s", type(error).__name__)


def look_up(trip: RoundTrip, e164: str) -> Lookup:
    """Ask for a number's entry in `trip`."""
    redis_key = key(e164)
    reply = Reply() if redis_key is None else trip.read(redis_key)
    return Lookup(redis_key, reply)


@dataclass(frozen=True)
class Marking:
    """A number marked as changing in a round trip, before a change that may create its
    account (a code login, written in SQL, sends no model signal)."""

    e164: str
    made_at: float

    def settle(self) -> None:
        """Call once the change is made: mark the number again (now and on commit) if
        this mark may lapse before the change commits: it is old, or a commit is still
        to come."""
        if (
            time.monotonic() - self.made_at > MARK_SECONDS / 2
            or transaction.get_connection().in_atomic_block
        ):
            mark_changed(self.e164)


def mark_changing(trip: RoundTrip, e164: str) -> Marking | None:
    """Mark a number as changing in `trip`; None when the cache is off."""
    redis_key = key(e164)
    if redis_key is None:
        return None
    trip.add("SET", redis_key, CHANGED, "EX", MARK_SECONDS)
    return Marking(e164, time.monotonic())


def mark_changed(*numbers: str) -> None:
    """Mark these numbers as changed: at once, and again when the current transaction
    commits (so a look-up in between reads the database and caches nothing)."""
    keys = [redis_key for redis_key in map(key, filter(None, numbers)) if redis_key]
    if keys:
        _mark(keys)
        if transaction.get_connection().in_atomic_block:
            transaction.on_commit(lambda: _mark(keys))


def _mark(keys: list[str]) -> None:
    try:
        trip = RoundTrip()
        for redis_key in keys:
            trip.add("SET", redis_key, CHANGED, "EX", MARK_SECONDS)
        trip.send()
    except OUTAGES as error:
        logger.warning(
            "Status cache entry not marked (stale for at most %s s): %s",
            settings.STATUS_CACHE_SECONDS,
            type(error).__name__,
        )


def _number(value) -> str:
    return getattr(value, "as_e164", None) or (str(value) if value else "")


def _before_save(sender, instance, raw=False, update_fields=None, **kwargs) -> None:
    """Note the stored number of an account whose number may be about to change."""
    if raw or instance.pk is None or not enabled():
        return
    if update_fields is not None and "phone_number" not in update_fields:
        return
    stored = sender._default_manager.filter(pk=instance.pk).values_list("phone_number")
    instance._status_cache_number = _number((stored.first() or ("",))[0])


# The fields a status is made of, and whether the account is active.
_FIELDS = frozenset({"phone_number", "password", "is_active"})


def _after_change(sender, instance, update_fields=None, **kwargs) -> None:
    if update_fields is not None and not _FIELDS.intersection(update_fields):
        return  # a save of other fields (the last login, say) changes no status
    mark_changed(_number(instance.phone_number), getattr(instance, "_status_cache_number", ""))


def connect(user_model) -> None:
    pre_save.connect(_before_save, sender=user_model, dispatch_uid="status_cache.pre_save")
    post_save.connect(_after_change, sender=user_model, dispatch_uid="status_cache.post_save")
    post_delete.connect(_after_change, sender=user_model, dispatch_uid="status_cache.post_delete")
