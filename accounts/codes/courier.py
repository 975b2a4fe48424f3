"""The delivery worker (`manage.py deliver_codes`): texts the sends that requests queued
(SMS_SEND_IN_BACKGROUND), so that no request ever waits on an SMS provider.

One loop talks to the database: it claims the oldest waiting sends for a lease, makes
their codes in one statement, hands each text to a pool of SMS_DELIVERY_CONCURRENCY
threads, and takes the texted ones off the queue in one statement. The threads only
call the providers: each send goes through its number's route, failing over to the next
provider with the same code. A send that no provider can have texted is withdrawn (its
code dies, the cooldown and the hourly cap give it back) and every budget it was counted
in is given back; one that a provider may have texted (a timeout, a 5xx) keeps its code.
One that waited longer than its code's lifetime is withdrawn untexted and given back.
The queue lives in PostgreSQL with the sends, so a code the service said it would text
survives the web process; if this worker dies holding sends, another takes them when
their lease runs out and texts them with new codes.

A lost database or Redis never ends the loop: it logs the outage once, waits a little
longer each time, reconnects and goes on.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone, translation
from phonenumber_field.phonenumber import PhoneNumber
from redis.exceptions import RedisError

from accounts.abuse import limits
from accounts.codes import delivery, otp
from accounts.codes.sms import breaker, providers
from accounts.identity.phone import mask_phone, normalize_phone
from accounts.models import User
from accounts.outbound import events
from accounts.sql import code_queue

logger = logging.getLogger("accounts")

# Waits after a failed round, doubling from the first to the last.
BACKOFF_FIRST, BACKOFF_MOST = 0.5, 10.0
OUTAGES = (DatabaseError, RedisError, OSError)
ROUND_GAP = 0.01  # seconds between busy rounds


def lease_seconds() -> float:
    """How long a worker holds a send: long enough for every try of every provider of
    the longest route."""
    try:
        providers_tried = providers.providers().longest_route
    except providers.ProviderSettingsError:
        providers_tried = 1
    return providers_tried * breaker.probe_seconds() + 10


def longest_wait() -> float:
    """Seconds the send that has waited longest has waited (0 when none waits)."""
    oldest = code_queue.oldest()
    return 0.0 if oldest is None else max(0.0, (timezone.now() - oldest).total_seconds())


def keeping_up() -> bool:
    """Whether no queued send has waited longer than SMS_DELIVERY_MAX_WAIT (/readyz)."""
    return longest_wait() <= settings.SMS_DELIVERY_MAX_WAIT


@dataclass(frozen=True)
class Texted:
    """A send's outcome, waiting for the loop to record it."""

    send: code_queue.Waiting
    phone: PhoneNumber
    attempt: delivery.Attempt


class Courier:
    def __init__(self, concurrency: int | None = None) -> None:
        self.concurrency = concurrency or settings.SMS_DELIVERY_CONCURRENCY
        self.pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="sms")
        self.outcomes: queue.SimpleQueue[Texted] = queue.SimpleQueue()
        self.recording: list[Texted] = []  # taken from `outcomes`, not written yet
        self.in_flight = 0
        self.stopping = threading.Event()
        self.wake = threading.Event()

    def stop(self) -> None:
        """Finish the texts under way, record them and return from `run`."""
        self.stopping.set()
        self.wake.set()

    def run(self, *, batch: bool = False) -> None:
        """Deliver until `stop`; with `batch`, until no send waits and none is under way."""
        backoff, outage = BACKOFF_FIRST, ""
        while not self.stopping.is_set():
            try:
                busy = self.round()
            except OUTAGES as error:
                if not outage:
                    outage = type(error).__name__
                    logger.warning("Delivery worker: cannot reach a store (%s); retrying", outage)
                _close_connection()  # the next round opens a fresh one
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MOST)
                continue
            if outage:
                logger.warning("Delivery worker: back after %s", outage)
                backoff, outage = BACKOFF_FIRST, ""
            if not busy:
                if batch and not self.in_flight:
                    break
                self.wake.wait(settings.SMS_DELIVERY_POLL_INTERVAL)
                self.wake.clear()
            elif self.in_flight:
                # Texts are under way: let a few more finish, so that a round records
                # and claims many at once, not one statement per text.
                self.stopping.wait(ROUND_GAP)
        self.pool.shutdown(wait=True)
        self._drain_until_recorded()

    def round(self) -> bool:
        """Record finished texts and claim as many sends as there are free threads;
        whether there was anything to do."""
        recorded = self.record()
        free = self.concurrency - self.in_flight
        if free <= 0:
            return recorded > 0
        now = timezone.now()
        lease = now + timedelta(seconds=lease_seconds())
        claimed = code_queue.claim(free, now=now, lease=lease)
        if not claimed:
            return recorded > 0
        phones = {send.id: normalize_phone(send.phone) for send in claimed}  # parsed once
        oldest = now - timedelta(seconds=settings.OTP_TTL)
        late = [send for send in claimed if send.sent_at < oldest]
        for send in late:
            reason = "waited longer than its code lives"
            self._withdraw(send, phones[send.id], "expired", reason, client_too=True)
        fresh = [send for send in claimed if send.sent_at >= oldest]
        codes = {send.id: otp.generate_code() for send in fresh}
        made = code_queue.make_codes(
            {send.id: otp.hash_code(phones[send.id], codes[send.id]) for send in fresh},
            lease=lease,
            expires_at=now + timedelta(seconds=settings.OTP_TTL),
        )
        for send in fresh:
            if send.id in made:  # else a newer send replaced it: that one is queued
                self.in_flight += 1
                self.pool.submit(self._text, send, phones[send.id], codes.pop(send.id))
        return True

    def record(self) -> int:
        """Write what the threads report: texted sends off the queue, failed ones
        withdrawn. Kept for the next round when the database is away."""
        while True:
            try:
                texted = self.outcomes.get_nowait()
            except queue.Empty:
                break
            self.in_flight -= 1
            self.recording.append(texted)
        if not self.recording:
            return 0
        done = self.recording
        by_lease: dict[datetime, list[int]] = {}
        for texted in done:  # taken by a provider, or maybe: the code stays
            if not texted.attempt.reached_nobody:
                by_lease.setdefault(texted.send.lease, []).append(texted.send.id)
        for lease, ids in by_lease.items():
            code_queue.finish(ids, lease=lease)
        for texted in done:
            attempt = texted.attempt
            if attempt.reached_nobody:
                self._withdraw(
                    texted.send,
                    texted.phone,
                    "failed",
                    attempt.failure,
                    client_too=not attempt.final,
                    backend=attempt.provider,
                )
            elif attempt.maybe_sent:
                logger.warning(
                    "Code to %s may not have been texted (%s); it stays live",
                    mask_phone(texted.phone),
                    attempt.failure,
                )
        self.recording = []
        for texted in done:  # once the outcomes are written, for the counters and trail
            delivery.announce(texted.phone, texted.attempt)
        return len(done)

    def _text(self, send: code_queue.Waiting, phone: PhoneNumber, code: str) -> None:
        """In a pool thread: text one code and report how it went (the thread touches no
        database; the loop records and announces)."""
        deadline = send.sent_at.timestamp() + settings.OTP_TTL  # the code dies then
        try:
            with translation.override(send.language or settings.LANGUAGE_CODE):
                done = delivery.attempt(phone, code, deadline=deadline)
        except Exception as error:  # never lose a thread's report
            done = delivery.Attempt(0.0, f"raised {type(error).__name__}")
        self.outcomes.put(Texted(send, phone, done))
        self.wake.set()

    def _withdraw(
        self,
        send: code_queue.Waiting,
        phone: PhoneNumber,
        outcome: str,
        reason: str,
        *,
        client_too: bool,
        backend: str = "",
    ) -> None:
        """Undo a send no provider texted and give back what it was counted in (the
        client's own count too with `client_too`: not when the number was refused)."""
        if not otp.withdraw(otp.Reservation(phone, send.sent_at, settings.OTP_TTL, 0)):
            return  # replaced by a newer send, or recorded in a round an outage cut short
        limits.give_back(_given_back(send.charges or {}, phone, client_too=client_too))
        events.announce(
            events.code_not_sent, backend=backend or "-", outcome=outcome, phone_number=phone
        )
        logger.error("Background SMS delivery failed for %s: %s", mask_phone(phone), reason)

    def _drain_until_recorded(self) -> None:
        """After a stop: record every outcome, waiting out a short outage."""
        for _ in range(10):
            try:
                self.record()
                return
            except OUTAGES:
                _close_connection()
                threading.Event().wait(1)
        logger.error("Delivery worker stopped with %d outcomes unrecorded", len(self.recording))


def _given_back(charges: dict, phone: PhoneNumber, *, client_too: bool) -> list:
    """The counts of a withdrawn send to take back (see `flows.send_code._charges`)."""
    given_back = list(charges.get("send") or [])
    if client_too and charges.get("client"):
        given_back.append(charges["client"])
    # The new numbers' budget was spent only if the number had no account; none can
    # have been made since, as no code reached it.
    if charges.get("new_number") and not User.objects.filter(phone_number=phone).exists():
        given_back.append(charges["new_number"])
    return given_back


def _close_connection() -> None:
    try:
        connection.close()
    except DatabaseError:
        pass  # already broken: dropped all the same
