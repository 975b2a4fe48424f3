"""Moving an account to a new number, by its owner (with proofs of both SIMs) or by staff
in the admin."""

from __future__ import annotations

import logging
import uuid

from django.db import IntegrityError, transaction
from phonenumber_field.phonenumber import PhoneNumber

from accounts.errors import InvalidPhoneNumber, PhoneNumberTaken
from accounts.flows.manage_sessions import session_uuid
from accounts.flows.reauthentication import require_code_of, require_fresh_proof
from accounts.flows.use_case import Caller, signed_in, use_case
from accounts.identity.phone import is_sms_eligible, mask_phone, normalize_phone
from accounts.models import Session, User
from accounts.outbound import events
from accounts.sessions import lifecycle

logger = logging.getLogger("accounts")


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
    lifecycle.end_all(user, Session.Reason.NUMBER_CHANGED, except_id=except_session)
    events.announce(
        events.phone_number_changed,
        user=user,
        old_phone_number=old,
        new_phone_number=user.phone_number,
    )
