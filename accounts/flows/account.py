"""An account over its life: what a number can do next, and its deletion."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from phonenumber_field.phonenumber import PhoneNumber

from .. import events, limits, status_cache
from ..errors import InvalidPhoneNumber
from ..models import OTPChallenge
from ..phone import mask_phone, normalize_phone
from ..redis_client import RoundTrip
from ..sql import user as user_sql
from .common import Caller, signed_in, use_case
from .proof import require_fresh_proof

logger = logging.getLogger("accounts")


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
    entry = cached.value
    if entry not in status_cache.ENTRIES:
        entry = status_cache.entry(user_sql.password_of(e164))
        cached.remember(entry)
    return UserStatus(
        phone_number=phone,
        exists=entry != status_cache.MISSING,
        has_password=entry == status_cache.PASSWORD,
    )


@use_case(caller="caller", client_ip="client_ip")
def delete_account(
    *, caller: Caller | None, client_ip: str, code: object = None, old_password: object = None
) -> None:
    """Delete the caller's account, with a fresh proof, and everything tied to its number:
    its sessions and refresh tokens, its code row, its cached status. The number can sign
    up afresh at once. Nothing of it is kept but the masked number in the log line."""
    user = signed_in(caller).user
    require_fresh_proof(user, code=code, old_password=old_password, client_ip=client_ip)
    phone = user.phone_number
    with transaction.atomic():
        events.announce(events.account_deleted, user_id=user.pk, phone_number=mask_phone(phone))
        OTPChallenge.objects.filter(phone_number=phone).delete()
        user.delete()  # sessions and refresh tokens go with it; the status entry is marked
    logger.info("Account deleted for %s", mask_phone(phone))
