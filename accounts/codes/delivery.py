"""Texting a code: the SMS backend called, timed and announced, its failures named."""

from __future__ import annotations

import time

from django.conf import settings
from phonenumber_field.phonenumber import PhoneNumber

from accounts.codes import otp, sms
from accounts.errors import SMSDeliveryFailed
from accounts.outbound import events
from project import tracing


def text_code(phone: PhoneNumber, code: str) -> None:
    """Text `code` to `phone`; `SMSDeliveryFailed` when the backend fails."""
    backend, started = settings.SMS_BACKEND, time.perf_counter()
    try:
        attributes = {"sms.backend": backend, "sms.country_code": phone.country_code}
        with tracing.span("sms.send", attributes):
            sms.send_sms(phone.as_e164, otp.message_for(code), code)
    except Exception as exc:
        elapsed = time.perf_counter() - started
        events.announce(events.sms_delivery, backend=backend, seconds=elapsed, ok=False)
        if isinstance(exc, sms.SMSSendError):
            raise SMSDeliveryFailed(reason=f"provider: {exc.reason}") from None
        # The exception text may quote the message, so only its type is kept.
        raise SMSDeliveryFailed(reason=f"backend raised {type(exc).__name__}") from None
    elapsed = time.perf_counter() - started
    events.announce(events.sms_delivery, backend=backend, seconds=elapsed, ok=True)
    events.announce(events.code_sent, phone_number=phone, backend=backend, test_number=False)


def text_reserved_code(reservation: otp.Reservation) -> None:
    """Make a reserved code and text it (the background worker's part of a send)."""
    issued = otp.make_code(reservation)
    if issued is None:
        return  # a newer send replaced this one; its own delivery texts the number
    text_code(reservation.phone_number, issued.code)
