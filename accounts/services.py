"""Use cases of the service. Both doors (GraphQL and REST) call these and nothing else.

Every function takes raw client input as keyword arguments, raises only
`AccountsError` subclasses for anything a client did, and returns plain values.
Every refusal is logged once, here, with its reason, the masked number and the
client's IP; codes and passwords never reach a log.
"""

from __future__ import annotations

import functools
import hmac
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import ParamSpec, TypeVar

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, DateTimeField, F, Q, Value, When
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from graphql_jwt.exceptions import JSONWebTokenError
from graphql_jwt.settings import jwt_settings
from graphql_jwt.utils import get_payload, get_user_by_payload
from phonenumber_field.phonenumber import PhoneNumber

from . import events, limits, otp, sessions, sms, status_cache, tasks, tokens, user_sql
from .errors import (
    AccountsError,
    InvalidCredentials,
    InvalidInput,
    InvalidPassword,
    InvalidPhoneNumber,
    InvalidToken,
    RateLimited,
    ServiceUnavailable,
    SMSDeliveryFailed,
    Unauthenticated,
)
from .infrastructure import OUTAGES
from .models import Session, User
from .phone import is_sms_eligible, mask_phone, normalize_phone, to_ascii_digits

logger = logging.getLogger("accounts")

# Longer secrets than this are refused before any hashing or parsing.
MAX_SECRET_LENGTH = 4096

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class UserStatus:
    phone_number: PhoneNumber
    exists: bool
    has_password: bool


@dataclass(frozen=True)
class SentCode:
    phone_number: PhoneNumber
    expires_in: int
    retry_after: int


@dataclass(frozen=True)
class TokenPair:
    user: User | None  # the account, on logins (a refresh needs no model of it)
    access: str
    refresh: str
    payload: dict
    refresh_expires_at: int  # Unix time, as django-graphql-jwt's refreshExpiresIn
    created: bool = False


@dataclass(frozen=True)
class Caller:
    """Who sent a request with an access token, and from which session."""

    user: User
    session_id: str | None  # None for tokens issued before sessions


@dataclass(frozen=True)
class Client:
    """Where a login comes from, as the session records it."""

    ip: str
    user_agent: str = ""


def use_case(function: Callable[P, R]) -> Callable[P, R]:
    """Log every refusal of `function` once, with its reason, number and client IP;
    turn an outage of the database or the cache into `ServiceUnavailable`."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            try:
                return function(*args, **kwargs)
            except OUTAGES as outage:
                # Fail closed: without the database or the cache no limit can be checked.
                raise ServiceUnavailable(reason=f"{type(outage).__name__}") from None
        except AccountsError as error:
            logger.warning(
                "%s refused: %s%s phone=%s ip=%s",
                function.__name__,
                error.code,
                f" ({error.reason})" if error.reason else "",
                _masked(kwargs.get("phone_number"), kwargs.get("caller")),
                kwargs.get("client_ip") or "-",
            )
            if isinstance(error, RateLimited):
                events.announce(events.rate_limited, limit=error.limit or "other")
            raise

    return wrapper


@use_case
def user_status(*, phone_number: object, client_ip: str) -> UserStatus:
    try:
        phone = normalize_phone(phone_number)
    except InvalidPhoneNumber:
        limits.hit(limits.STATUS_LOOKUPS_PER_IP, client_ip)  # a malformed look-up counts too
        raise
    e164 = phone.as_e164
    cache_key = status_cache.key(e164)
    # The per-IP counter and the cached status come back in one round trip.
    entry = limits.hit(limits.STATUS_LOOKUPS_PER_IP, client_ip, read=cache_key)
    if entry not in (status_cache.MISSING, status_cache.CODE_ONLY, status_cache.PASSWORD):
        entry = status_cache.entry(user_sql.password_of(e164))
        status_cache.remember(cache_key, entry)
    return UserStatus(
        phone_number=phone,
        exists=entry != status_cache.MISSING,
        has_password=entry == status_cache.PASSWORD,
    )


@use_case
def send_otp(*, phone_number: object, client_ip: str) -> SentCode:
    """Text a new one-time code to a mobile number in an allowed region."""
    try:
        return _send_otp(phone_number, client_ip)
    except AccountsError as error:
        events.announce(
            events.code_not_sent, backend=settings.SMS_BACKEND, outcome=_unsent_outcome(error)
        )
        raise


def _send_otp(phone_number: object, client_ip: str) -> SentCode:
    # The per-IP count and the SMS budget are charged in one round trip; the budget is
    # given back when the send is refused before any text goes out.
    per_ip, budget = limits.charge((limits.OTP_SENDS_PER_IP, client_ip), (limits.SMS_GLOBAL, "all"))
    fixed_code = None
    try:
        if refusal := per_ip.refusal():
            raise refusal
        phone = normalize_phone(phone_number)
        if not is_sms_eligible(phone):
            raise InvalidPhoneNumber(reason="not a mobile number in an allowed region")
        fixed_code = otp.test_code(phone)
        if fixed_code is not None:
            # Cooldown and hourly cap as for any number; no SMS, so no budget is charged.
            budget.refund()
            reservation = otp.issue(phone, fixed_code).reservation
            logger.warning("Test number: code not texted to %s ip=%s", mask_phone(phone), client_ip)
            events.announce(
                events.code_sent,
                phone_number=mask_phone(phone),
                backend="test-number",
                test_number=True,
            )
            return SentCode(phone, reservation.expires_in, reservation.retry_after)
        if refusal := budget.refusal():
            raise refusal
        if settings.SMS_SEND_IN_BACKGROUND:
            # The worker makes the code, so that none waits in the queue.
            reservation, issued = otp.reserve(phone), None
        else:
            issued = otp.issue(phone)
            reservation = issued.reservation
    except Exception:
        if fixed_code is None:
            budget.refund()
        raise
    try:
        if issued is None:
            tasks.deliver_code.enqueue(
                phone.as_e164, reservation.sent_at.isoformat(), translation.get_language()
            )
        else:
            _deliver(phone, otp.message_for(issued.code), issued.code)
    except Exception:
        # The backend failed, or the queue or Redis went away: no code, no cooldown.
        otp.withdraw(reservation)
        raise
    logger.info("Code sent to %s ip=%s", mask_phone(phone), client_ip)
    return SentCode(
        phone_number=phone,
        expires_in=reservation.expires_in,
        retry_after=reservation.retry_after,
    )


def deliver_code(reservation: otp.Reservation) -> None:
    """Make a reserved code and text it (the background worker's part of `send_otp`);
    raises `SMSDeliveryFailed` when the provider fails."""
    issued = otp.make_code(reservation)
    if issued is None:
        return  # a newer send replaced this one; its own delivery texts the number
    _deliver(reservation.phone_number, otp.message_for(issued.code), issued.code)


@use_case
def login(
    *, phone_number: object, password: object, client_ip: str, user_agent: str = ""
) -> TokenPair:
    """Log in with a one-time code or a fixed password (both arrive as `password`) and
    open a session.

    A code for an unknown number creates the account. Every failure is the same
    `InvalidCredentials`, whatever went wrong; lockouts are `RateLimited`.
    """
    try:
        phone = normalize_phone(phone_number)
        secret = _require_secret(password)
        digits = to_ascii_digits(secret)
        code = digits if otp.looks_like_code(digits) else None
        # A code may create the account: its status is marked as changing in the round
        # trip that checks the failure budget, before the statement that may create it.
        marker = status_cache.marker(phone.as_e164) if code else None
        with _counting_login_failures(client_ip, also_set=marker):
            marked_at = time.monotonic() if marker else None
            return _login(phone, secret, code, Client(client_ip, user_agent), marked_at)
    except (InvalidCredentials, InvalidPhoneNumber, RateLimited) as error:
        _announce_login_failure(phone_number, password, error)
        raise


@use_case
def staff_login(*, phone_number: object, password: object, client_ip: str) -> User:
    """Password login for staff: the admin site, and anything else that calls Django's
    `authenticate()`. The same per-account lockout and per-IP failure budget as `login`;
    an account that is not active staff is refused as a wrong password is, after the
    same work, so the answer does not tell whether the password was right."""
    try:
        phone = normalize_phone(phone_number)
        secret = _require_secret(password)
        with _counting_login_failures(client_ip):
            user = User.objects.filter(phone_number=phone).first()
            _check_fixed_password(user, secret)
            if not (user.is_active and user.is_staff):
                raise InvalidCredentials(reason="not an active staff account")
    except (InvalidCredentials, InvalidPhoneNumber, RateLimited) as error:
        _announce_login_failure(phone_number, "", error)
        raise
    _record_login(user)
    logger.info("Staff login for %s ip=%s", mask_phone(phone), client_ip)
    events.announce(events.user_logged_in, user=user, method="password", session_id=None)
    return user


def _login(
    phone: PhoneNumber, password: str, code: str | None, client: Client, marked_at: float | None
) -> TokenPair:
    """Log in with `code` (the password's digits, when they look like a one-time code)
    or else with `password` as a fixed password."""
    if code is not None:
        login = otp.log_in(phone, code, user_agent=client.user_agent, client_ip=client.ip)
        if login.outcome is otp.Outcome.ACCEPTED:
            if login.session is None:
                raise InvalidCredentials(reason="inactive account")
            return _code_login(phone, login, marked_at)
        if login.outcome is otp.Outcome.REJECTED:
            raise InvalidCredentials(reason="wrong one-time password")
        # No live code: the digits may still be a fixed password.

    user = User.objects.filter(phone_number=phone).first()
    if user is not None and not user.is_active:
        raise InvalidCredentials(reason="inactive account")
    _check_fixed_password(user, password)
    _record_login(user)
    logger.info("Password login for %s", mask_phone(phone))
    pair = _open_session(user, Session.Method.PASSWORD, client)
    _announce_login(pair, "password")
    return pair


def _code_login(phone: PhoneNumber, login: otp.Login, marked_at: float | None) -> TokenPair:
    # Written in SQL, so no model signal marks the new account: `login` marked it before
    # the statement, and it is marked again (now and on commit) if that mark may lapse
    # before the account is committed: it was not made, is old, or a commit is to come.
    if login.created and (
        marked_at is None
        or time.monotonic() - marked_at > status_cache.MARK_SECONDS / 2
        or transaction.get_connection().in_atomic_block
    ):
        status_cache.forget(phone.as_e164)
    if otp.test_code(phone) is not None:
        logger.warning("Test number login for %s", mask_phone(phone))
    logger.info("SMS login for %s (created=%s)", mask_phone(phone), login.created)
    refresh_token = sessions.refresh_token(login.session.session_id, login.session.generation)
    pair = _token_pair(login.session, refresh_token, user=login.user, created=login.created)
    if login.created:
        events.announce(events.user_signed_up, user=login.user, method="code")
    _announce_login(pair, "code")
    return pair


@use_case
def refresh(*, refresh_token: object) -> TokenPair:
    """Trade a live refresh token for a new pair; the old refresh token dies."""
    rotation = sessions.rotate(_require_token(refresh_token))
    if rotation.session is None:
        if rotation.reuse_detected:
            logger.warning(
                "Refresh token reuse: a rotated token was presented again, so its session "
                "and every refresh token rotated from its login were revoked"
            )
        outcome = "reuse_detected" if rotation.reuse_detected else "refused"
        events.announce(events.token_refreshed, outcome=outcome)
        raise InvalidToken(reason=rotation.error)
    events.announce(events.token_refreshed, outcome="retried" if rotation.retried else "rotated")
    return _token_pair(rotation.session, rotation.refresh_token)


@use_case
def verify(*, token: object) -> dict:
    """Return the payload of a valid, unexpired access token."""
    return _decode_access_token(_require_token(token))


@use_case
def revoke(*, refresh_token: object) -> None:
    """Log out: end the session of a refresh token."""
    if not sessions.revoke(_require_token(refresh_token), Session.Reason.LOGOUT):
        raise InvalidToken(reason="no live session for the refresh token")


@use_case
def authenticate(*, access_token: str | None) -> Caller | None:
    """Who an `Authorization: JWT <token>` header names; None without a header."""
    if access_token is None:
        return None
    payload = _decode_access_token(_require_token(access_token))
    try:
        user = get_user_by_payload(payload)
    except JSONWebTokenError:
        user = None
    if user is None:
        raise InvalidToken(reason="no active user for the token")
    session_id = payload.get("sid")
    return Caller(user, session_id if isinstance(session_id, str) else None)


@use_case
def authorize_metrics(*, authorization: str, client_ip: str) -> None:
    """Let a scraper read /metrics: `Authorization: Bearer <METRICS_TOKEN>` when a token
    is set. A wrong token counts against the same per-IP failure budget as logins."""
    token = settings.METRICS_TOKEN
    if not token:
        return
    limits.check(limits.LOGIN_FAILURES_PER_IP, client_ip)
    # The header as it came on the wire (WSGI decodes headers as latin-1).
    presented = authorization.encode("latin-1", "replace")
    if not hmac.compare_digest(presented, f"Bearer {token}".encode()):
        limits.record(limits.LOGIN_FAILURES_PER_IP, client_ip)
        raise Unauthenticated(reason="no or wrong metrics token")


@use_case
def list_sessions(*, caller: Caller | None) -> list[Session]:
    """The caller's live sessions, most recently used first."""
    if caller is None:
        raise Unauthenticated()
    return list(sessions.live_sessions(caller.user))


@use_case
def revoke_session(*, caller: Caller | None, session_id: object) -> int:
    """End one of the caller's own sessions; 0 for an id that is not one (someone
    else's answers the same as an unknown one)."""
    if caller is None:
        raise Unauthenticated()
    try:
        key = uuid.UUID(str(session_id))
    except ValueError:
        return 0
    return sessions.end_sessions(
        Session.objects.filter(pk=key, user=caller.user), Session.Reason.REVOKED_BY_USER
    )


@use_case
def revoke_other_sessions(*, caller: Caller | None) -> int:
    """End every session of the caller but the one its access token came from."""
    if caller is None:
        raise Unauthenticated()
    current = _session_uuid(caller.session_id)
    return sessions.end_all(caller.user, Session.Reason.REVOKED_BY_USER, except_id=current)


@use_case
def set_password(
    *, caller: Caller | None, password: object, old_password: object = None
) -> TokenPair:
    """Set or change the fixed password; every session of the user ends.

    Returns a fresh token pair, of a new session, so the caller stays logged in.
    """
    if caller is None:
        raise Unauthenticated()
    user = caller.user
    if not isinstance(password, str):
        raise InvalidInput(_("password: must be a string."))
    if len(password) > MAX_SECRET_LENGTH:
        too_long = _("This password is too long. It must contain at most %(max)d characters.")
        raise InvalidPassword([too_long % {"max": MAX_SECRET_LENGTH}], reason="too long")
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise InvalidPassword(exc.messages, reason="rejected by validators") from None
    if user.has_usable_password():
        if not isinstance(old_password, str) or len(old_password) > MAX_SECRET_LENGTH:
            raise InvalidCredentials(_("The old password is incorrect."), reason="no old password")
        _claim_password_attempt(user)
        if not user.check_password(old_password):
            raise InvalidCredentials(
                _("The old password is incorrect."), reason="wrong old password"
            )
    changed = user.has_usable_password()
    with transaction.atomic():
        events.announce(events.password_set, user=user, changed=changed)
        user.set_password(password)
        user.failed_logins, user.locked_until = 0, None
        user.save(update_fields=["password", "failed_logins", "locked_until"])
        sessions.end_all(user, Session.Reason.PASSWORD_CHANGED)
        current = Session.objects.filter(pk=_session_uuid(caller.session_id)).first()
        client = Client(current.client_ip, current.user_agent) if current else Client("")
        method = current.method if current else Session.Method.PASSWORD
        return _open_session(user, method, client)


# --- helpers ----------------------------------------------------------------------


def _deliver(phone: PhoneNumber, text: str, code: str) -> None:
    backend, started = settings.SMS_BACKEND, time.perf_counter()
    try:
        sms.send_sms(phone.as_e164, text, code)
    except Exception as exc:
        elapsed = time.perf_counter() - started
        events.announce(events.sms_delivery, backend=backend, seconds=elapsed, ok=False)
        if isinstance(exc, sms.SMSSendError):
            raise SMSDeliveryFailed(reason=f"provider: {exc.reason}") from None
        # The exception text may quote the message, so only its type is kept.
        raise SMSDeliveryFailed(reason=f"backend raised {type(exc).__name__}") from None
    elapsed = time.perf_counter() - started
    events.announce(events.sms_delivery, backend=backend, seconds=elapsed, ok=True)
    events.announce(
        events.code_sent, phone_number=mask_phone(phone), backend=backend, test_number=False
    )


def _unsent_outcome(error: AccountsError) -> str:
    if isinstance(error, RateLimited):
        return f"refused_{error.limit or 'other'}"
    if isinstance(error, SMSDeliveryFailed):
        return "failed"
    if isinstance(error, InvalidPhoneNumber):
        return "invalid_number"
    return error.code.lower()


def _announce_login(pair: TokenPair, method: str) -> None:
    events.announce(
        events.user_logged_in, user=pair.user, method=method, session_id=pair.payload["sid"]
    )


def _announce_login_failure(phone_number: object, password: object, error: AccountsError) -> None:
    # An all-digit secret of the code's length is a code: fixed passwords cannot be all digits.
    digits = to_ascii_digits(password) if isinstance(password, str) else ""
    method = "code" if otp.looks_like_code(digits) else "password"
    events.announce(
        events.login_failed,
        phone_number=_masked(phone_number, None),
        method=method,
        reason=error.code,
    )


def _masked(phone_number: object, caller: Caller | None) -> str:
    if caller is not None:
        return mask_phone(caller.user.phone_number)
    try:
        return mask_phone(normalize_phone(phone_number))
    except InvalidPhoneNumber:
        return "-"


def _require_secret(value: object) -> str:
    # A password longer than any set here cannot be right: refuse it before the hasher.
    if not isinstance(value, str) or not value or len(value) > MAX_SECRET_LENGTH:
        raise InvalidCredentials(reason="empty or oversized password")
    return value


@contextmanager
def _counting_login_failures(client_ip: str, also_set: tuple | None = None) -> Iterator[None]:
    """Refuse a client IP over LOGIN_FAILURES_PER_IP_PER_HOUR; count the failures of
    the block. `also_set` goes to Redis with the check (see `limits.check`)."""
    limits.check(limits.LOGIN_FAILURES_PER_IP, client_ip, also_set=also_set)
    try:
        yield
    except InvalidCredentials:
        limits.record(limits.LOGIN_FAILURES_PER_IP, client_ip)
        raise


def _check_fixed_password(user: User | None, password: str) -> None:
    """The one password check of every door: an unknown number or an account without a
    usable password is refused without the hasher; otherwise the attempt is counted
    (or refused while the account is locked) before the hasher runs."""
    if user is None:
        raise InvalidCredentials(reason="unknown number")
    if not user.has_usable_password():
        raise InvalidCredentials(reason="no fixed password set")
    _claim_password_attempt(user)
    if not user.check_password(password):
        raise InvalidCredentials(reason="wrong password")


def _require_token(value: object) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_SECRET_LENGTH:
        raise InvalidToken(reason="malformed token")
    return value


def _decode_access_token(token: str) -> dict:
    try:
        payload = get_payload(token)
    except JSONWebTokenError as error:
        raise InvalidToken(reason=str(error)) from None
    if (
        not isinstance(payload, dict)
        or jwt_settings.JWT_PAYLOAD_GET_USERNAME_HANDLER(payload) is None
    ):
        raise InvalidToken(reason="payload without a subject")
    return payload


def _lockout_expression(now):
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


def _claim_password_attempt(user: User) -> None:
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
        # The same answer whether or not the password would have been right.
        raise RateLimited(
            (locked_until - now).total_seconds(),
            reason="password lockout",
            limit="password-lockout",
        )


def _record_login(user: User) -> None:
    user.last_login = timezone.now()
    User.objects.filter(pk=user.pk).update(
        last_login=user.last_login, failed_logins=0, locked_until=None
    )


def _session_uuid(session_id: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(session_id) if session_id else None
    except ValueError:
        return None


def _open_session(user: User, method: str, client: Client, *, created: bool = False) -> TokenPair:
    session, refresh_token = sessions.open_session(
        user, method, user_agent=client.user_agent, client_ip=client.ip
    )
    live = sessions.LiveSession.of(session)
    return _token_pair(live, refresh_token, user=user, created=created)


def _token_pair(
    session: sessions.LiveSession,
    refresh_token: str,
    *,
    user: User | None = None,
    created: bool = False,
) -> TokenPair:
    payload = tokens.claims(session.user_id, session.phone_number, str(session.session_id))
    return TokenPair(
        user=user,
        access=jwt_settings.JWT_ENCODE_HANDLER(payload),
        refresh=refresh_token,
        payload=payload,
        refresh_expires_at=int(session.expires_at.timestamp()),
        created=created,
    )
