"""Texting a one-time code: the client's and the service's budgets (with a share kept
for numbers that have an account), the number's cooldown and hourly caps, number ranges
that look pumped, bot checks when a risk signal fires, test numbers, and delivery in
the request or from the worker."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from django.conf import settings
from phonenumber_field.phonenumber import PhoneNumber
from phonenumbers import region_code_for_number

from accounts.abuse import bot_check, limits, networks, ranges, status_cache
from accounts.codes import delivery, otp
from accounts.errors import AccountsError, InvalidPhoneNumber, RateLimited, SMSDeliveryFailed
from accounts.flows.use_case import masked, use_case
from accounts.identity.phone import is_sms_eligible, mask_phone, normalize_phone
from accounts.outbound import events
from project.redis_client import RoundTrip

logger = logging.getLogger("accounts")


@use_case(phone="phone_number", client_ip="client_ip")
def send_otp(
    *, phone_number: object, client_ip: str, challenge_token: str | None = None
) -> SentCode:
    """Text a new one-time code to a mobile number in an allowed region.

    `challenge_token` is a bot check's token, for a send that was answered
    `CHALLENGE_REQUIRED`; it is verified only when the send needs it.
    """
    try:
        return _send_otp(phone_number, client_ip, challenge_token)
    except AccountsError as error:
        events.announce(
            events.code_not_sent,
            backend=settings.SMS_BACKEND,
            outcome=_unsent_outcome(error),
            phone_number=masked(phone_number),
        )
        raise


def _send_otp(phone_number: object, client_ip: str, challenge_token: str | None) -> SentCode:
    try:
        phone = normalize_phone(phone_number)
        if not is_sms_eligible(phone):
            raise InvalidPhoneNumber(reason="not a mobile number in an allowed region")
    except InvalidPhoneNumber:
        limits.hit(limits.OTP_SENDS_PER_IP, client_ip)  # a malformed send counts too
        raise
    fixed_code = otp.fixed_code(phone)
    if fixed_code is not None:
        return _send_fixed(phone, fixed_code, client_ip)
    # Every counter a send touches, and the number's cached status, in one round trip;
    # all but the client's own count are given back when the send is refused.
    e164 = phone.as_e164
    network = networks.network_of(client_ip)
    region = region_code_for_number(phone) or ""
    trip = RoundTrip()
    per_ip = limits.count(trip, limits.OTP_SENDS_PER_IP, client_ip)
    share = limits.count(trip, limits.OTP_SENDS_PER_NUMBER_NETWORK, f"{e164} {network}")
    budget = limits.count(trip, limits.SMS_GLOBAL, "all")
    region_limit = settings.SMS_MAX_PER_HOUR_BY_REGION.get(region)
    in_region = None if region_limit is None else limits.count(trip, limits.SMS_REGION, region)
    # Counted as a send to a new number until its reservation says otherwise.
    new_spent = limits.count(trip, limits.SMS_NEW_NUMBERS, "all")
    in_range = ranges.look(trip, e164)
    cached = status_cache.look_up(trip, e164)
    trip.send()
    charged = [share, budget, in_region, in_range.counted, new_spent]
    try:
        per_ip.enforce()
        budget.enforce()
        if in_region is not None:
            in_region.enforce(region_limit)
        if new_spent.count > _unreserved() and not _has_account(cached, e164):
            raise _reserved_for_accounts(new_spent)
        checked = _screen(per_ip, share, in_range, client_ip, challenge_token)
        charges = _charges(per_ip, charged) if settings.SMS_SEND_IN_BACKGROUND else None
        reservation, issued = _reserve(phone, checked, client_ip, challenge_token, charges)
        if reservation.has_account:  # a returning user's: not the new numbers' to pay
            charged.remove(new_spent)
            new_spent.refund()
    except Exception:
        limits.refund(*charged)
        raise
    if issued is not None:  # else the reservation itself queued it (codes.courier)
        _text(phone, issued.code, reservation, given_back=(per_ip, *charged))
    logger.info("Code sent to %s ip=%s", mask_phone(phone), client_ip)
    return SentCode(
        phone_number=phone,
        expires_in=reservation.expires_in,
        retry_after=reservation.retry_after,
    )


def _charges(per_ip: limits.Count, charged: list[limits.Count | None]) -> dict:
    """What a queued send was counted in, for the worker to give back if no provider
    can text it: the client's own count apart (kept when a provider refuses the number),
    and the new numbers' budget apart (given back only where the number has no account)."""
    *send, new_spent = charged
    return {
        "client": per_ip.charge,
        "send": [count.charge for count in send if count is not None],
        "new_number": new_spent.charge,  # type: ignore[union-attr]
    }


def _text(
    phone: PhoneNumber,
    code: str,
    reservation: otp.Reservation,
    given_back: tuple[limits.Count | None, ...],
) -> None:
    """Text the code in the request. When no provider can have texted it, the send is
    undone: no code, no cooldown, and every budget it was counted in given back (the
    client's own count too, unless a provider refused the number itself). When one may
    have (a timeout, a 5xx), the code stays live and the send counts."""
    try:
        done = delivery.attempt(phone, code)
        delivery.announce(phone, done)
    except Exception:
        otp.withdraw(reservation)  # Redis went away: no code, no cooldown
        raise
    if done.reached_nobody:
        otp.withdraw(reservation)
        limits.refund(*(given_back[1:] if done.final else given_back))
        raise SMSDeliveryFailed(reason=done.failure)
    if done.maybe_sent:
        logger.warning(
            "Code to %s may not have been texted (%s); it stays live",
            mask_phone(phone),
            done.failure,
        )


def _send_fixed(phone: PhoneNumber, code: str, client_ip: str) -> SentCode:
    """A test number: the cooldown and hourly cap as for any number; no SMS, so no
    budget is charged and no bot check asked."""
    limits.hit(limits.OTP_SENDS_PER_IP, client_ip)
    # Its code never changes: the stricter hourly cap, whatever the network.
    reservation = otp.issue(phone, code, per_hour=settings.OTP_MAX_SENDS_PER_HOUR).reservation
    logger.warning("Test number: code not texted to %s ip=%s", mask_phone(phone), client_ip)
    events.announce(events.code_sent, phone_number=phone, backend="test-number", test_number=True)
    return SentCode(phone, reservation.expires_in, reservation.retry_after)


def _unreserved() -> int:
    """The sends of an hour that numbers without an account may have: the share of
    SMS_MAX_PER_HOUR not kept for accounts (SMS_RESERVED_FOR_ACCOUNTS)."""
    return math.floor(settings.SMS_MAX_PER_HOUR * (1 - settings.SMS_RESERVED_FOR_ACCOUNTS))


def _has_account(cached: status_cache.Lookup, e164: str) -> bool:
    """Whether the number has an account: from the status cache, or the database."""
    return cached.entry(e164) != status_cache.MISSING


def _reserved_for_accounts(spent: limits.Count) -> RateLimited:
    return RateLimited(
        spent.window_end - spent.at,
        reason="the SMS budget left is reserved for accounts",
        limit="sms-reserved",
    )


def _screen(
    per_ip: limits.Count,
    share: limits.Count,
    in_range: ranges.Look,
    client_ip: str,
    token: str | None,
) -> bool:
    """Whether the send passed a bot check; refuse it, or ask for one, when a risk
    signal fires: the number's share for this network is used up, or its range's codes
    are not verified (and, with BOT_CHECK_POLICY=risk, the network sent much)."""
    tripped = in_range.tripped
    if tripped:
        in_range.warn_once()
    over_share = share.refusal()
    if bot_check.backend() is None:
        if tripped:
            raise RateLimited(
                limits.HOUR, reason=f"range {in_range.name} not verified", limit=ranges.LIMIT_NAME
            )
        if over_share is not None:
            raise over_share
        return False
    if tripped:
        reason, limit = f"range {in_range.name} not verified", ranges.LIMIT_NAME
    elif over_share is not None:
        reason, limit = "the number's share for this network is used", share.limit.scope
    elif per_ip.count > settings.BOT_CHECK_NETWORK_SENDS:
        reason, limit = "many sends from this network", "network-sends"
    elif settings.BOT_CHECK_POLICY == "always":
        reason, limit = "every send is checked", ""
    else:
        return False
    bot_check.passes(token, client_ip, reason=reason, limit=limit)
    return True


def _reserve(
    phone: PhoneNumber,
    checked: bool,
    client_ip: str,
    token: str | None,
    charges: dict | None,
) -> tuple[otp.Reservation, otp.IssuedCode | None]:
    """Reserve the send (and make its code, unless the worker will). With a bot check,
    a number's first OTP_MAX_SENDS_PER_HOUR codes of an hour need no check; past them,
    up to the hard ceiling, a send that passed one still gets a code, so that nobody
    else's requests lock the owner out. Without one, every network may reach the ceiling
    within its own share."""
    if bot_check.backend() is None or checked:
        return _reserved(phone, settings.OTP_MAX_SENDS_PER_HOUR_HARD, charges)
    try:
        return _reserved(phone, settings.OTP_MAX_SENDS_PER_HOUR, charges)
    except RateLimited as refusal:
        if refusal.limit != "number-hourly":
            raise
    bot_check.passes(token, client_ip, reason="the number's hourly codes", limit="number-hourly")
    return _reserved(phone, settings.OTP_MAX_SENDS_PER_HOUR_HARD, charges)


def _reserved(
    phone: PhoneNumber, per_hour: int, charges: dict | None
) -> tuple[otp.Reservation, otp.IssuedCode | None]:
    if settings.SMS_SEND_IN_BACKGROUND:
        # The worker makes the code, so that none waits in the queue, and gives the
        # charges back if no provider can text it.
        return otp.reserve(phone, per_hour=per_hour, charges=charges), None
    issued = otp.issue(phone, per_hour=per_hour)
    return issued.reservation, issued


def _unsent_outcome(error: AccountsError) -> str:
    if isinstance(error, RateLimited):
        return f"refused_{error.limit or 'other'}"
    if isinstance(error, SMSDeliveryFailed):
        return "failed"
    if isinstance(error, InvalidPhoneNumber):
        return "invalid_number"
    return error.code.lower()


@dataclass(frozen=True)
class SentCode:
    """A code on its way: how long it lives, and when another may be sent."""

    phone_number: PhoneNumber
    expires_in: int
    retry_after: int
