"""A person's own sessions: listed, and ended one by one or all but the current one."""

from __future__ import annotations

import uuid

from accounts.flows.use_case import Caller, signed_in, use_case
from accounts.models import Session
from accounts.sessions import lifecycle


@use_case(caller="caller")
def list_sessions(*, caller: Caller | None) -> list[Session]:
    """The caller's live sessions, most recently used first."""
    return list(lifecycle.live_sessions(signed_in(caller).user))


@use_case(caller="caller")
def revoke_session(*, caller: Caller | None, session_id: object) -> int:
    """End one of the caller's own sessions; 0 for an id that is not one (someone
    else's answers the same as an unknown one)."""
    user = signed_in(caller).user
    try:
        key = uuid.UUID(str(session_id))
    except ValueError:
        return 0
    return lifecycle.end_sessions(
        Session.objects.filter(pk=key, user=user), Session.Reason.REVOKED_BY_USER
    )


@use_case(caller="caller")
def revoke_other_sessions(*, caller: Caller | None) -> int:
    """End every session of the caller but the one its access token came from."""
    caller = signed_in(caller)
    current = session_uuid(caller.session_id)
    return lifecycle.end_all(caller.user, Session.Reason.REVOKED_BY_USER, except_id=current)


def session_uuid(session_id: str | None) -> uuid.UUID | None:
    """The id of an access token's session, as the table keys it."""
    try:
        return uuid.UUID(session_id) if session_id else None
    except ValueError:
        return None
