"""What a number can do next: sign up, log in with a code, or with a password."""

from __future__ import annotations

from dataclasses import dataclass

from phonenumber_field.phonenumber import PhoneNumber

from accounts.abuse import limits, status_cache
from accounts.errors import InvalidPhoneNumber
from accounts.flows.use_case import use_case
from accounts.identity.phone import normalize_phone
from project.redis_client import RoundTrip


@dataclass(frozen=True)
class UserStatus:
    """What a number can do next: sign up, log in with a code, or with a password."""

    phone_number: PhoneNumber
    exists: bool
    has_password: bool


@use_case(phone="phone_number", client_ip="client_ip")
def user_status(*, phone_number: object, client_ip: str) -> UserStatus:
    """Whether a number has no account, an account with a fixed password, or one
    without; counted against the client's STATUS_LOOKUPS_PER_IP_PER_HOUR."""
    try:
        phone = normalize_phone(phone_number)
    except InvalidPhoneNumber:
        limits.hit(limits.STATUS_LOOKUPS_PER_IP, client_ip)  # a malformed look-up counts too
        raise
    e164 = phone.as_e164
    # The per-IP counter and the cached status come back in one round trip.
    trip = RoundTrip()
    counted = limits.count(trip, limits.STATUS_LOOKUPS_PER_IP, client_ip)
    cached = status_cache.look_up(trip, e164)
    trip.send()
    counted.enforce()
    entry = cached.entry(e164)
    return UserStatus(
        phone_number=phone,
        exists=entry != status_cache.MISSING,
        has_password=entry == status_cache.PASSWORD,
    )
