"""Texting a one-time code: per-IP and global budgets, the number's cooldown and
hourly cap, test numbers, and delivery in the request or from the worker."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.utils import translation
from phonenumber_field.phonenumber import PhoneNumber

from .. import delivery, events, limits, otp, tasks
from ..errors import AccountsError, InvalidPhoneNumber, RateLimited, SMSDeliveryFailed
from ..phone import is_sms_eligible, mask_phone, normalize_phone
from ..redis_client import RoundTrip
from .common import use_case

logger = logging.getLogger("accounts")


@use_case(phone="phone_number", client_ip="client_ip")
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
    trip = RoundTrip()
    per_ip = limits.count(trip, limits.OTP_SENDS_PER_IP, client_ip)
    budget = limits.count(trip, limits.SMS_GLOBAL, "all")
    trip.send()
    fixed_code = None
    try:
        per_ip.enforce()
        phone = normalize_phone(phone_number)
        if not is_sms_eligible(phone):
            raise InvalidPhoneNumber(reason="not a mobile number in an allowed region")
        fixed_code = otp.fixed_code(phone)
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
        budget.enforce()
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
            delivery.text_code(phone, issued.code)
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
