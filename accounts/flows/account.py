"""An account over its life: what a number can do next, and its deletion."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from phonenumber_field.phonenumber import PhoneNumber

from .. import events, limits, sessions, status_cache
from ..errors import InvalidPhoneNumber, PhoneNumberTaken
from ..models import OTPChallenge, Session, User
from ..phone import is_sms_eligible, mask_phone, normalize_phone
from ..redis_client import RoundTrip
from .common import Caller, signed_in, use_case
from .proof import require_code_of, require_fresh_proof
from .sessions import session_uuid

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
    entry = cached.entry(e164)
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
    erase(user)


def erase(user: User) -> None:
    """Delete an account and everything tied to its number (`delete_account`, and the
    admin's deletion, whose permission is its proof)."""
    phone = user.phone_number
    with transaction.atomic():
        sessions.end_all(user, Session.Reason.ACCOUNT_DELETED)  # their tokens die everywhere
        # Announced after its sessions' ends, so a receiver hears the deletion last.
        events.announce(events.account_deleted, user_id=user.pk, phone_number=mask_phone(phone))
        OTPChallenge.objects.filter(phone_number=phone).delete()
        user.delete()  # sessions and refresh tokens go with it; the status entry is marked
    logger.info("Account deleted for %s", mask_phone(phone))


@use_case(caller="caller", client_ip="client_ip")
def change_phone_number(
    *,
    caller: Caller | None,
    new_phone_number: object,
    new_number_code: object,
    client_ip: str,
    code: object = None,
    old_password: object = None,
) -> User:
    """Move the caller's account to a new number: `new_number_code` (texted to the new
    number) proves the new SIM, `code` or `old_password` the current owner. Every other
    session ends; the caller's goes on. `PhoneNumberTaken` when another account has the
    number, also when two callers race for it (one wins)."""
    caller = signed_in(caller)
    user = caller.user
    new = normalize_phone(new_phone_number)
    if not is_sms_eligible(new):
        raise InvalidPhoneNumber(reason="not a mobile number in an allowed region")
    if new == user.phone_number or User.objects.filter(phone_number=new).exists():
        raise PhoneNumberTaken(reason="the new number has an account")
    require_fresh_proof(user, code=code, old_password=old_password, client_ip=client_ip)
    require_code_of(new, new_number_code, client_ip=client_ip)
    old = user.phone_number
    try:
        with transaction.atomic():
            user.phone_number = new
            user.save(update_fields=["phone_number"])  # marks both numbers' statuses
            number_changed(user, old, except_session=session_uuid(caller.session_id))
    except IntegrityError:
        user.phone_number = old
        raise PhoneNumberTaken(reason="taken while the change was made") from None
    logger.info("Number changed from %s to %s", mask_phone(old), mask_phone(new))
    return user


def number_changed(
    user: User, old: PhoneNumber, *, except_session: uuid.UUID | None = None
) -> None:
    """What follows a saved number change, wherever it was made: every session of the
    account but `except_session` ends, and the change is announced."""
    sessions.end_all(user, Session.Reason.NUMBER_CHANGED, except_id=except_session)
    events.announce(
        events.phone_number_changed,
        user=user,
        old_phone_number=mask_phone(old),
        new_phone_number=mask_phone(user.phone_number),
    )
