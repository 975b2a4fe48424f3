"""Fixed passwords: the one check every door makes, and the per-account lockout."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Case, DateTimeField, F, Q, Value, When
from django.utils import timezone

from .errors import InvalidCredentials, RateLimited
from .models import User


def check(user: User | None, password: str) -> User:
    """The one password check of every door: an unknown number or an account without a
    usable password is refused without the hasher; otherwise the attempt is counted
    (or refused while the account is locked) before the hasher runs."""
    if user is None:
        raise InvalidCredentials(reason="unknown number")
    if not user.has_usable_password():
        raise InvalidCredentials(reason="no fixed password set")
    claim_attempt(user)
    if not user.check_password(password):
        raise InvalidCredentials(reason="wrong password")
    return user


def claim_attempt(user: User) -> None:
    """Count a password attempt before the hasher runs, or refuse it while locked.

    One conditional update, so parallel guesses cannot get past the lock: an attempt
    is only evaluated if it was counted while the account was unlocked.
    """
    now = timezone.now()
    claimed = (
        User.objects.filter(pk=user.pk)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
        .update(failed_logins=F("failed_logins") + 1, locked_until=_lockout_expression(now))
    )
    if not claimed:
        locked_until = User.objects.values_list("locked_until", flat=True).get(pk=user.pk)
        wait = (locked_until - now).total_seconds() if locked_until else 1
        # The same answer whether or not the password would have been right.
        raise RateLimited(wait, reason="password lockout", limit="password-lockout")


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
    threshold = settings.PASSWORD_LOCKOUT_THRESHOLD
    ceiling = settings.PASSWORD_LOCKOUT_MAX_SECONDS
    steps, failures = [], threshold
    while True:
        seconds = min(ceiling, settings.PASSWORD_LOCKOUT_SECONDS * 2 ** (failures - threshold))
        steps.append(When(failed_logins=failures - 1, then=Value(now + timedelta(seconds=seconds))))
        if seconds >= ceiling:
            break
        failures += 1
    steps.append(When(failed_logins__gte=failures, then=Value(now + timedelta(seconds=ceiling))))
    return Case(*steps, default=F("locked_until"), output_field=DateTimeField())
