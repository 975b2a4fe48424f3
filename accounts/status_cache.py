"""A short-lived cache of each number's status in Redis, for `userStatus`.

The entry is read in the same pipelined round trip as the per-IP counter, so a cached
status costs one trip to Redis and none to the database. Every change to an account
(sign-up, setPassword, deactivation, deletion, any admin edit) replaces its entry with a
marker for `MARK_SECONDS`, when it is made and again when it commits (a code login,
which may create the account, sets the `marker` before its statement instead, in the
round trip that checks the client's failure budget); readers cache
what they read from the database only with SET NX, so a read that began before the
change cannot put the old status back while the marker stands. Whatever is still missed
(a change made while Redis was unreachable) lasts at most `STATUS_CACHE_SECONDS`. Keys
are keyed hashes of the number, so Redis holds no list of numbers.
"""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from django.contrib.auth.hashers import is_password_usable
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save
from django.utils.encoding import force_bytes

from .infrastructure import OUTAGES

logger = logging.getLogger("accounts")

MISSING, CODE_ONLY, PASSWORD = b"0", b"1", b"2"
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


def remember(redis_key: str | None, value: bytes) -> None:
    """Cache a status just read from the database under its `key`, unless a newer
    entry is there."""
    if redis_key is None:
        return
    from .limits import RedisStore

    try:
        RedisStore.client().set(redis_key, value, ex=settings.STATUS_CACHE_SECONDS, nx=True)
    except OUTAGES as error:  # the answer stands; only the next look-up misses the cache
        logger.warning("Status cache not written: %s", type(error).__name__)


def marker(e164: str) -> tuple[str, bytes, int] | None:
    """The Redis SET (key, value, seconds) that marks a number as changing, for a round
    trip made anyway (see `limits.check`); None when the cache is off. A change that
    commits more than `MARK_SECONDS / 2` after it was set is marked again with `forget`."""
    redis_key = key(e164)
    return None if redis_key is None else (redis_key, CHANGED, MARK_SECONDS)


def forget(*numbers: str) -> None:
    """Mark these numbers as changed: at once, and again when the current transaction
    commits (so a look-up in between reads the database and caches nothing)."""
    keys = [redis_key for redis_key in map(key, filter(None, numbers)) if redis_key]
    if keys:
        _mark(keys)
        if transaction.get_connection().in_atomic_block:
            transaction.on_commit(lambda: _mark(keys))


def _mark(keys: list[str]) -> None:
    from .limits import RedisStore

    try:
        pipeline = RedisStore.client().pipeline(transaction=False)
        for redis_key in keys:
            pipeline.set(redis_key, CHANGED, ex=MARK_SECONDS)
        pipeline.execute()
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
    forget(_number(instance.phone_number), getattr(instance, "_status_cache_number", ""))


def connect(user_model) -> None:
    pre_save.connect(_before_save, sender=user_model, dispatch_uid="status_cache.pre_save")
    post_save.connect(_after_change, sender=user_model, dispatch_uid="status_cache.post_save")
    post_delete.connect(_after_change, sender=user_model, dispatch_uid="status_cache.post_delete")
