"""Number ranges whose codes are never verified: what SMS pumping looks like.

A pumped number belongs to whoever is paid for the traffic to it; nobody types its code
back. Per range (the first `OTP_RANGE_DIGITS` digits of the E.164 number), codes sent
and codes verified are counted over a sliding hour. A range with at least
`OTP_RANGE_MIN_SENDS` sends and a verified share under `OTP_RANGE_MIN_VERIFIED` is
tripped: its further sends need a passed bot check, or are refused without one. Each
trip is logged once per hour and counted as `range-conversion` in
`accounts_rate_limited_total`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings

from accounts.abuse import limits
from accounts.abuse.limits import Limit
from project.redis_client import RoundTrip

logger = logging.getLogger("accounts")

SENT = Limit("range-sent", "OTP_RANGE_MIN_SENDS")
VERIFIED = Limit("range-verified", "OTP_RANGE_MIN_SENDS")
LIMIT_NAME = "range-conversion"


def range_of(e164: str) -> str:
    """The range of a number: its first OTP_RANGE_DIGITS digits, as in +98 935 77…"""
    return e164.lstrip("+")[: settings.OTP_RANGE_DIGITS]


@dataclass(frozen=True)
class Look:
    """A send counted against its range, with the range's verified codes beside it."""

    name: str
    sent: limits.Sliding
    verified: limits.Sliding

    @property
    def counted(self) -> limits.Count:
        return self.sent.current

    @property
    def tripped(self) -> bool:
        before = self.sent.count - 1  # the sends before this one
        if before < settings.OTP_RANGE_MIN_SENDS:
            return False
        return self.verified.count < settings.OTP_RANGE_MIN_VERIFIED * before

    def warn_once(self) -> None:
        """Log the trip once an hour per range (one WARNING line per trip)."""
        trip = RoundTrip()
        first = limits.once(trip, f"range-trip:{self.name}", limits.HOUR)
        trip.send()
        if first.value:
            logger.warning(
                "Number range +%s… tripped: %d codes sent in the last hour, %d verified; "
                "further sends need a bot check",
                self.name,
                round(self.sent.count),
                round(self.verified.count),
            )


def look(trip: RoundTrip, e164: str) -> Look:
    """Count a send to `e164` against its range in `trip`, and read its verified codes."""
    name = range_of(e164)
    return Look(
        name,
        limits.sliding(trip, SENT, name, counted=True),
        limits.sliding(trip, VERIFIED, name, counted=False),
    )


def count_verified(trip: RoundTrip, e164: str) -> limits.Count:
    """Count a verified code to `e164` in `trip` (refund it if the code was wrong)."""
    return limits.count(trip, VERIFIED, range_of(e164))
