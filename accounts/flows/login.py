"""Logging in: with a one-time code (which signs up an unknown number) or a fixed
password, through the API; with a password, through the admin."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from phonenumber_field.phonenumber import PhoneNumber

from accounts.abuse import limits, ranges, status_cache
from accounts.codes import otp
from accounts.errors import AccountsError, InvalidCredentials, InvalidPhoneNumber, RateLimited
from accounts.flows.use_case import (
    Client,
    TokenPair,
    masked,
    open_session,
    require_secret,
    token_pair,
    use_case,
)
from accounts.identity import passwords
from accounts.identity.phone import mask_phone, normalize_phone, to_ascii_digits
from accounts.models import Session, User
from accounts.outbound import events, webhooks
from accounts.sessions import lifecycle
from project.redis_client import RoundTrip

logger = logging.getLogger("accounts")


@use_case(phone="phone_number", client_ip="client_ip")
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
        secret = require_secret(password)
        digits = to_ascii_digits(secret)
        code = digits if otp.looks_like_code(digits) else None
        trip = RoundTrip()
        # A code may create the account: its status is marked as changing in the round
        # trip that counts the attempt, before the statement that may create it.
        marking = status_cache.mark_changing(trip, phone.as_e164) if code else None
        with counting_failures(client_ip, trip) as after:
            client = Client(client_ip, user_agent)
            if code is not None and (pair := _code_login(phone, code, client, marking)):
                # A code typed back: its number range converts (`ranges`), counted in the
                # trip that gives the attempt back.
                ranges.count_verified(after, phone.as_e164)
                return pair
            return _password_login(phone, secret, client)
    except (InvalidCredentials, InvalidPhoneNumber, RateLimited) as error:
        _announce_failure(phone_number, password, error)
        raise


@use_case(phone="phone_number", client_ip="client_ip")
def staff_login(*, phone_number: object, password: object, client_ip: str) -> User:
    """Password login for staff: the admin site, and anything else that calls Django's
    `authenticate()`. The same per-account lockout and per-IP failure budget as `login`;
    an account that is not active staff is refused as a wrong password is, after the
    same work, so the answer does not tell whether the password was right."""
    try:
        phone = normalize_phone(phone_number)
        secret = require_secret(password)
        with counting_failures(client_ip):
            user = passwords.check(User.objects.filter(phone_number=phone).first(), secret)
            if not (user.is_active and user.is_staff):
                raise InvalidCredentials(reason="not an active staff account")
    except (InvalidCredentials, InvalidPhoneNumber, RateLimited) as error:
        _announce_failure(phone_number, "", error)
        raise
    passwords.record_login(user)
    logger.info("Staff login for %s ip=%s", mask_phone(phone), client_ip)
    events.announce(
        events.user_logged_in,
        user=user,
        phone_number=phone,
        method="password",
        session_id=None,
    )
    return user


@contextmanager
def counting_failures(
    client_ip: str,
    trip: RoundTrip | None = None,
    failure: type[AccountsError] = InvalidCredentials,
) -> Iterator[RoundTrip]:
    """Run the block as one attempt against the client's LOGIN_FAILURES_PER_IP_PER_HOUR:
    the attempt is counted before it runs (in `trip`, with whatever else it carries),
    refused over the budget, and given back unless it fails with `failure`.
    So parallel attempts never evaluate more than the budget, on any number of workers.
    The block may add commands to the round trip that gives the attempt back."""
    trip = trip or RoundTrip()
    attempt = limits.count(trip, limits.LOGIN_FAILURES_PER_IP, client_ip)
    trip.send()
    if refusal := attempt.refusal():
        attempt.refund()  # refused: nothing was tried
        raise refusal
    after = RoundTrip()
    try:
        yield after
    except failure:
        raise  # the failure keeps its place in the budget
    except BaseException:
        attempt.refund()
        raise
    attempt.refund(after)
    after.send()


def _code_login(
    phone: PhoneNumber, code: str, client: Client, marking: status_cache.Marking | None
) -> TokenPair | None:
    """Log in with `code`; None when the number has no live code (the digits may still
    be a fixed password)."""
    # An account the code creates commits with its user.created event (when webhooks are on).
    with webhooks.atomic():
        login = otp.log_in(phone, code, user_agent=client.user_agent, client_ip=client.ip)
        if login.created and login.user is not None and login.session is not None:
            events.announce(
                events.user_signed_up,
                user=login.user,
                phone_number=login.session.phone_number,
                method="code",
            )
    if login.outcome is otp.Outcome.NO_LIVE_CODE:
        return None
    if login.outcome is otp.Outcome.REJECTED:
        raise InvalidCredentials(reason="wrong one-time password")
    if login.session is None or login.user is None:
        raise InvalidCredentials(reason="inactive account")
    if login.created:
        # Written in SQL, so no model signal marks the new account.
        if marking is None:
            status_cache.mark_changed(phone.as_e164)
        else:
            marking.settle()
    if otp.fixed_code(phone) is not None:
        logger.warning("Test number login for %s", mask_phone(phone))
    logger.info("SMS login for %s (created=%s)", mask_phone(phone), login.created)
    refresh_token = lifecycle.refresh_token(login.session.session_id, login.session.generation)
    pair = token_pair(login.session, refresh_token, user=login.user, created=login.created)
    _announce_login(pair, "code")
    return pair


def _password_login(phone: PhoneNumber, password: str, client: Client) -> TokenPair:
    user = User.objects.filter(phone_number=phone).first()
    if user is not None and not user.is_active:
        raise InvalidCredentials(reason="inactive account")
    user = passwords.check(user, password)
    passwords.record_login(user)
    logger.info("Password login for %s", mask_phone(phone))
    pair = open_session(user, Session.Method.PASSWORD, client)
    _announce_login(pair, "password")
    return pair


def _announce_login(pair: TokenPair, method: str) -> None:
    events.announce(
        events.user_logged_in,
        user=pair.user,
        phone_number=pair.payload["phoneNumber"],
        method=method,
        session_id=pair.payload["sid"],
    )


def _announce_failure(phone_number: object, password: object, error: AccountsError) -> None:
    # An all-digit secret of the code's length is a code: fixed passwords cannot be all digits.
    digits = to_ascii_digits(password) if isinstance(password, str) else ""
    method = "code" if otp.looks_like_code(digits) else "password"
    events.announce(
        events.login_failed, phone_number=masked(phone_number), method=method, reason=error.code
    )
