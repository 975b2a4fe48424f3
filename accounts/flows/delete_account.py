"""Deleting an account, by its owner (with a fresh proof) or by staff in the admin."""

from __future__ import annotations

import logging

from django.db import transaction

from accounts.flows.reauthentication import require_fresh_proof
from accounts.flows.use_case import Caller, signed_in, use_case
from accounts.identity.phone import mask_phone
from accounts.models import OTPChallenge, Session, User
from accounts.outbound import events
from accounts.sessions import lifecycle

logger = logging.getLogger("accounts")


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
        lifecycle.end_all(user, Session.Reason.ACCOUNT_DELETED)  # their tokens die everywhere
        # Announced after its sessions' ends, so a receiver hears the deletion last.
        events.announce(events.account_deleted, user_id=user.pk, phone_number=phone)
        OTPChallenge.objects.filter(phone_number=phone).delete()
        user.delete()  # sessions and refresh tokens go with it; the status entry is marked
    logger.info("Account deleted for %s", mask_phone(phone))
