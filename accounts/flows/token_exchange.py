"""Tokens after a login: refresh, verify, revoke, and who an access token names."""

from __future__ import annotations

import logging

from graphql_jwt.exceptions import JSONWebTokenError
from graphql_jwt.utils import get_user_by_payload

from accounts.errors import InvalidToken
from accounts.flows.use_case import Caller, TokenPair, require_token, token_pair, use_case
from accounts.models import Session
from accounts.outbound import events
from accounts.sessions import access_tokens, lifecycle, revocation

logger = logging.getLogger("accounts")


@use_case()
def refresh(*, refresh_token: object) -> TokenPair:
    """Trade a live refresh token for a new pair; the old refresh token dies."""
    rotation = lifecycle.rotate(require_token(refresh_token))
    if rotation.session is None:
        if rotation.reuse_detected:
            logger.warning(
                "Refresh token reuse: a rotated token was presented again, so its session "
                "and every refresh token rotated from its login were revoked"
            )
        outcome = "reuse_detected" if rotation.reuse_detected else "refused"
        events.announce(events.token_refreshed, outcome=outcome)
        raise InvalidToken(reason=rotation.error)
    events.announce(events.token_refreshed, outcome="retried" if rotation.retried else "rotated")
    return token_pair(rotation.session, rotation.refresh_token)


@use_case()
def verify(*, token: object) -> dict:
    """Return the payload of a valid, unexpired access token of a live session."""
    return _live(access_tokens.check(require_token(token)))


@use_case()
def revoke(*, refresh_token: object) -> None:
    """Log out: end the session of a refresh token."""
    if not lifecycle.revoke(require_token(refresh_token), Session.Reason.LOGOUT):
        raise InvalidToken(reason="no live session for the refresh token")


@use_case()
def authenticate(*, access_token: str | None) -> Caller | None:
    """Who an `Authorization: JWT <token>` header names; None without a header."""
    if access_token is None:
        return None
    payload = _live(access_tokens.check(require_token(access_token)))
    try:
        user = get_user_by_payload(payload)
    except JSONWebTokenError:
        user = None
    if user is None:
        raise InvalidToken(reason="no active user for the token")
    session_id = payload.get("sid")
    return Caller(user, session_id if isinstance(session_id, str) else None)


def _live(payload: dict) -> dict:
    """The payload, unless its session has ended (on any instance: `revocation`)."""
    if revocation.is_ended(payload.get("sid")):
        raise InvalidToken(reason="session ended")
    return payload
