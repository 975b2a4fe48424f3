"""Texting a code: through the number's route of providers, each behind its circuit
breaker, with the same code for every provider tried; timed, announced, its failures
named and classed (see `SMSSendError`)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from phonenumber_field.phonenumber import PhoneNumber

from accounts.codes import otp
from accounts.codes.sms import SMSMessage, SMSSendError, breaker, providers
from accounts.errors import SMSDeliveryFailed
from accounts.identity.phone import mask_phone
from accounts.outbound import events
from project import tracing

logger = logging.getLogger("accounts")


@dataclass(frozen=True)
class Call:
    """One provider's part in a send."""

    provider: str
    seconds: float
    ok: bool


@dataclass(frozen=True)
class Attempt:
    """How a send went: which provider took it ("" if none did) and, if none did, why.

    `maybe_sent`: no provider said it took the message, but one may have texted it (a
    timeout after the request went, a 5xx): the code must stay live. `final`: a provider
    refused the number itself. Neither: no provider texted it.
    """

    seconds: float
    failure: str = ""
    provider: str = ""
    maybe_sent: bool = False
    final: bool = False
    calls: tuple[Call, ...] = ()

    @property
    def reached_nobody(self) -> bool:
        """Failed, and no provider can have texted the code: the send is given back."""
        return bool(self.failure) and not self.maybe_sent


def attempt(phone: PhoneNumber, code: str, *, deadline: float | None = None) -> Attempt:
    """Text `code` through `phone`'s route: each provider in turn, skipping those whose
    breaker is open, until one takes it, one refuses the number, or (with `deadline`,
    a `time.time()`) the code would arrive dead. Never raises, and touches no database,
    so a delivery worker's threads may call it; `announce` what it did afterwards."""
    started = time.perf_counter()
    message = SMSMessage(to=phone.as_e164, body=otp.message_for(code), code=code)
    calls: list[Call] = []
    failures: list[str] = []
    maybe_sent = final = False
    try:
        route = providers.route(phone)
    except providers.ProviderSettingsError as error:
        return Attempt(time.perf_counter() - started, f"settings: {error}")
    if not route:
        return Attempt(time.perf_counter() - started, "no route for this number")
    for provider in route:
        if deadline is not None and time.time() >= deadline:
            failures.append("the code's lifetime ran out")
            break
        allowed = breaker.allow(provider.name)
        if allowed == breaker.SKIP:
            failures.append(f"{provider.name}: paused (circuit open)")
            continue
        call_started = time.perf_counter()
        refused = _send(provider, phone, message)
        calls.append(Call(provider.name, time.perf_counter() - call_started, refused is None))
        if refused is None:
            breaker.report(provider.name, ok=True)
            return Attempt(time.perf_counter() - started, "", provider.name, calls=tuple(calls))
        failures.append(refused.reason)
        logger.warning(
            "SMS provider %s did not take the code to %s: %s",
            provider.name,
            mask_phone(phone),
            refused.reason,
        )
        # A refused number is an answer, not a failure of the provider.
        breaker.report(
            provider.name, ok=refused.final, reason=refused.reason, retry_after=refused.retry_after
        )
        maybe_sent = maybe_sent or refused.maybe_sent
        if refused.final:
            final = True
            break
    return Attempt(
        time.perf_counter() - started,
        "; ".join(failures),
        calls[-1].provider if calls else "",
        maybe_sent=maybe_sent,
        final=final,
        calls=tuple(calls),
    )


def _send(
    provider: providers.Provider, phone: PhoneNumber, message: SMSMessage
) -> SMSSendError | None:
    """One provider's try: None when it took the message, else the `SMSSendError`."""
    attributes = {
        "sms.backend": provider.name,
        "sms.country_code": phone.country_code,
    }
    try:
        with tracing.span("sms.send", attributes):
            provider.backend.send(message)
    except SMSSendError as error:
        return error
    except Exception as error:
        # The exception text may quote the message, so only its type is kept.
        return SMSSendError(f"{provider.name}: backend raised {type(error).__name__}")
    return None


def announce(phone: PhoneNumber, done: Attempt) -> None:
    for call in done.calls:
        events.announce(
            events.sms_delivery, backend=call.provider, seconds=call.seconds, ok=call.ok
        )
    if not done.failure:
        events.announce(
            events.code_sent, phone_number=phone, backend=done.provider, test_number=False
        )
    elif done.maybe_sent:  # counted apart: neither sent nor given back
        events.announce(
            events.code_not_sent, backend=done.provider, outcome="maybe_sent", phone_number=phone
        )


def text_code(phone: PhoneNumber, code: str) -> Attempt:
    """Text `code` to `phone` and announce it. `SMSDeliveryFailed` when no provider can
    have texted it; an attempt that may have reached the phone is returned, as sent."""
    done = attempt(phone, code)
    announce(phone, done)
    if done.reached_nobody:
        raise SMSDeliveryFailed(reason=done.failure)
    return done


def text_reserved_code(reservation: otp.Reservation) -> None:
    """Make a reserved code and text it (an old queued task's part of a send)."""
    issued = otp.make_code(reservation)
    if issued is None:
        return  # a newer send replaced this one; its own delivery texts the number
    text_code(reservation.phone_number, issued.code)
