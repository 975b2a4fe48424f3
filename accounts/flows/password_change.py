"""The fixed password: set it, or change it with the old one."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.errors import InvalidInput, InvalidPassword
from accounts.flows.manage_sessions import session_uuid
from accounts.flows.reauthentication import require_fresh_proof
from accounts.flows.use_case import (
    MAX_SECRET_LENGTH,
    Caller,
    Client,
    TokenPair,
    open_session,
    signed_in,
    token_pair,
    use_case,
)
from accounts.models import Session
from accounts.outbound import events
from accounts.sessions import lifecycle
from accounts.sql.session import LiveSession


@use_case(caller="caller", client_ip="client_ip")
def set_password(
    *,
    caller: Caller | None,
    password: object,
    client_ip: str,
    old_password: object = None,
    code: object = None,
) -> TokenPair:
    """Set or change the fixed password, with a fresh proof: `code` (texted to the
    account's number) for a first password, `old_password` or `code` for a change (the
    code is the way back from a forgotten password). Every other session of the user
    ends; the caller's goes on, and a fresh access token of it comes back with its
    current refresh token.
    """
    caller = signed_in(caller)
    user = caller.user
    if not isinstance(password, str):
        raise InvalidInput(_("password: must be a string."))
    if len(password) > MAX_SECRET_LENGTH:
        too_long = _("This password is too long. It must contain at most %(max)d characters.")
        raise InvalidPassword([too_long % {"max": MAX_SECRET_LENGTH}], reason="too long")
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise InvalidPassword(exc.messages, reason="rejected by validators") from None
    # Checked after the new password's rules, so a rejected password spends no code.
    require_fresh_proof(user, code=code, old_password=old_password, client_ip=client_ip)
    changed = user.has_usable_password()
    with transaction.atomic():
        events.announce(events.password_set, user=user, changed=changed)
        user.set_password(password)
        user.failed_logins, user.locked_until = 0, None
        user.save(update_fields=["password", "failed_logins", "locked_until"])
        session_id = session_uuid(caller.session_id)
        lifecycle.end_all(user, Session.Reason.PASSWORD_CHANGED, except_id=session_id)
        live = lifecycle.live_sessions(user).select_related("user")
        current = live.filter(pk=session_id).first() if session_id else None
        if current is None:  # a token from before sessions: a session in its place
            return open_session(user, Session.Method.PASSWORD, Client(""))
        refresh_token = lifecycle.refresh_token(current.pk, current.generation)
        return token_pair(LiveSession.of(current), refresh_token, user=user)


@use_case(caller="caller", client_ip="client_ip")
def remove_password(
    *, caller: Caller | None, client_ip: str, code: object = None, old_password: object = None
) -> bool:
    """Go back to a code-only account, with a fresh proof; every other session ends and
    the caller's goes on. False when the account had no password to remove."""
    caller = signed_in(caller)
    user = caller.user
    require_fresh_proof(user, code=code, old_password=old_password, client_ip=client_ip)
    if not user.has_usable_password():
        return False
    with transaction.atomic():
        events.announce(events.password_removed, user=user)
        user.set_unusable_password()
        user.failed_logins, user.locked_until = 0, None
        user.save(update_fields=["password", "failed_logins", "locked_until"])
        current = session_uuid(caller.session_id)
        lifecycle.end_all(user, Session.Reason.PASSWORD_CHANGED, except_id=current)
    return True
