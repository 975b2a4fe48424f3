"""Fixed passwords: the one check every door makes, and the per-account lockout."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Case, DateTimeField, F, Q, Value, When
from django.utils import timezone

from accounts.errors import InvalidCredentials, RateLimited
from accounts.models import User
from accounts.outbound import events, webhooks


def check(user: User | None, password: str) -> User:
    """The one password check of every door: an unknown number or an account without a
    usable password is refused without the hasher; otherwise the attempt is counted
    (or refused while the account is locked) before the hasher runs."""
    if user is None:
        raise InvalidCredentials(reason="unknown number")
    if not user.has_usable_password():
        raise InvalidCredentials(reason="no fixed password set")
    claimed_at = claim_attempt(user)
    if not user.check_password(password):
        _announce_lock(user, claimed_at)
        raise InvalidCredentials(reason="wrong password")
    return user


def claim_attempt(user: User) -> datetime:
    """Count a password attempt before the hasher runs, or refuse it while locked; the
    time the attempt was counted at.

    One conditional update, so parallel guesses cannot get past the lock: an attempt
    is only evaluated if it was counted while the account was unlocked. The update
    also sets the lock this attempt brings if it fails; a success clears it.
    """
    now = timezone.now()
    claimed = (
        User.objects.filter(pk=user.pk)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
        .update(failed_logins=F("failed_logins") + 1, locked_until=_lockout_expression(now))
    )
    if claimed:
        return now
    locked_until = User.objects.values_list("locked_until", flat=True).get(pk=user.pk)
    wait = (locked_until - now).total_seconds() if locked_until else 1
    # The same answer whether or not the password would have been right.
    raise RateLimited(wait, reason="password lockout", limit="password-lockout")


def _announce_lock(user: User, claimed_at: datetime) -> None:
    """Announce the lock a wrong password brought, if it brought one: the lock its
    attempt set carries the attempt's own time (`_lockout_expression`)."""
    with webhooks.atomic():
        locked_until = User.objects.values_list("locked_until", flat=True).get(pk=user.pk)
        lengths = {timedelta(seconds=seconds) for seconds in _lock_seconds()}
        if locked_until is not None and locked_until - claimed_at in lengths:
            events.announce(
                events.account_locked,
                user_id=user.pk,
                phone_number=user.phone_number,
                locked_until=locked_until,
            )


def _lock_seconds() -> list[int]:
    """How long each failure from the PASSWORD_LOCKOUT_THRESHOLD-th on locks the account:
    PASSWORD_LOCKOUT_SECONDS, doubling, the last one PASSWORD_LOCKOUT_MAX_SECONDS (which
    every later failure keeps)."""
    ceiling = settings.PASSWORD_LOCKOUT_MAX_SECONDS
    steps = [min(ceiling, settings.PASSWORD_LOCKOUT_SECONDS)]
    while steps[-1] < ceiling:
        steps.append(min(ceiling, steps[-1] * 2))
    return steps


def record_login(user: User) -> None:
    """A successful login: its time, and the failure count and lock cleared."""
    user.last_login = timezone.now()
    User.objects.filter(pk=user.pk).update(
        last_login=user.last_login, failed_logins=0, locked_until=None
    )


def _lockout_expression(now: datetime) -> Case:
    """`locked_until` after one more failure: after PASSWORD_LOCKOUT_THRESHOLD failures
    the account locks for PASSWORD_LOCKOUT_SECONDS, doubling with every further failure
    up to PASSWORD_LOCKOUT_MAX_SECONDS."""
    threshold, lengths = settings.PASSWORD_LOCKOUT_THRESHOLD, _lock_seconds()
    steps = [
        When(failed_logins=threshold - 1 + index, then=Value(now + timedelta(seconds=seconds)))
        for index, seconds in enumerate(lengths)
    ]
    later = Value(now + timedelta(seconds=lengths[-1]))
    steps.append(When(failed_logins__gte=threshold + len(lengths) - 1, then=later))
    return Case(*steps, default=F("locked_until"), output_field=DateTimeField())
