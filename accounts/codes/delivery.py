"""Texting a code: the SMS backend called, timed and announced, its failures named."""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from phonenumber_field.phonenumber import PhoneNumber

from accounts.codes import otp, sms
from accounts.errors import SMSDeliveryFailed
from accounts.outbound import events
from project import tracing


@dataclass(frozen=True)
class Attempt:
    """One call of the SMS backend: how long it took, and why it failed ("" if not)."""

    seconds: float
    failure: str = ""


def attempt(phone: PhoneNumber, code: str) -> Attempt:
    """Call the SMS backend with `code`'s text. Never raises, and touches no database,
    so a delivery worker's threads may call it; `announce` what it did afterwards."""
    backend, started = settings.SMS_BACKEND, time.perf_counter()
    failure = ""
    try:
        attributes = {"sms.backend": backend, "sms.country_code": phone.country_code}
        with tracing.span("sms.send", attributes):
            sms.send_sms(phone.as_e164, otp.message_for(code), code)
    except sms.SMSSendError as exc:
        failure = f"provider: {exc.reason}"
    except Exception as exc:
        # The exception text may quote the message, so only its type is kept.
        failure = f"backend raised {type(exc).__name__}"
    return Attempt(time.perf_counter() - started, failure)


def announce(phone: PhoneNumber, done: Attempt) -> None:
    backend = settings.SMS_BACKEND
    events.announce(events.sms_delivery, backend=backend, seconds=done.seconds, ok=not done.failure)
    if not done.failure:
        events.announce(events.code_sent, phone_number=phone, backend=backend, test_number=False)


def text_code(phone: PhoneNumber, code: str) -> None:
    """Text `code` to `phone`; `SMSDeliveryFailed` when the backend fails."""
    done = attempt(phone, code)
    announce(phone, done)
    if done.failure:
        raise SMSDeliveryFailed(reason=done.failure)


def text_reserved_code(reservation: otp.Reservation) -> None:
    """Make a reserved code and text it (the background worker's part of a send)."""
    issued = otp.make_code(reservation)
    if issued is None:
        return  # a newer send replaced this one; its own delivery texts the number
    text_code(reservation.phone_number, issued.code)
