"""Sessions ended within the last access-token lifetime, known to every worker without a
round trip per request, so an ended session's access tokens are refused everywhere.

Every ended session (`events.session_revoked`, after commit) is remembered in this
process at once and added to a Redis sorted set, scored by when it ended. Each worker
reads the set's new entries every `POLL_SECONDS` in a thread of its own (and everything
still in force when it starts or reconnects), so any other instance refuses the tokens
within a second. Entries leave once no access token of theirs can still be valid.
Without Redis, only the process that ended a session knows it at once.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.conf import settings
from graphql_jwt.settings import jwt_settings

from accounts.errors import OUTAGES
from accounts.outbound import events
from accounts.sessions import access_tokens
from project import tracing
from project.redis_client import RoundTrip, client

logger = logging.getLogger("accounts")

KEY = "revoked:sessions"
POLL_SECONDS = 0.25
# Entries are scored by the clock of the instance that ended the session: each poll reads
# from this long before the newest entry it saw, and never from later than its own clock,
# so an instance whose clock runs ahead cannot hide the entries of the others.
CLOCK_SKEW_SECONDS = 2.0

_ended: dict[str, float] = {}  # session id -> Unix time its last access token expires
_state: dict[str, Any] = {"listening": False, "seen_until": 0.0}
_lock = threading.Lock()


def window() -> float:
    """How long an ended session matters: the longest an access token of it lives."""
    return jwt_settings.JWT_EXPIRATION_DELTA.total_seconds() + access_tokens.leeway_seconds() + 1


def is_ended(session_id: object) -> bool:
    """Whether the session of an access token has ended (a dictionary look-up)."""
    if not _state["listening"] and settings.REDIS_URL:
        _listen_in_background()
    return isinstance(session_id, str) and _ended.get(session_id, 0.0) > time.time()


def _remember(session_id: str, ended_at: float) -> None:
    _ended[session_id] = ended_at + window()


def _forget_old(now: float) -> None:
    for session_id, until in list(_ended.items()):
        if until <= now:
            _ended.pop(session_id, None)


def _on_session_revoked(sender: Any, session_id: str, **kwargs: Any) -> None:
    ended_at = time.time()
    _remember(session_id, ended_at)
    if not settings.REDIS_URL:
        _forget_old(ended_at)  # no poller prunes here: keep memory to the window
        return
    try:
        trip = RoundTrip()
        trip.add("ZADD", KEY, ended_at, session_id)
        trip.add("ZREMRANGEBYSCORE", KEY, "-inf", ended_at - window())
        trip.send()
    except OUTAGES as error:  # this process refuses it; the others miss it until expiry
        logger.warning("Ended session not shared: %s", type(error).__name__)


def _read_new() -> None:
    """Every entry ended since the last read (all still in force, the first time)."""
    now = time.time()
    seen = _state["seen_until"]
    since = min(seen, now) - CLOCK_SKEW_SECONDS if seen else now - window()
    entries: Any = client().zrangebyscore(KEY, since, "+inf", withscores=True)
    for member, ended_at in entries:
        _remember(member.decode(), float(ended_at))
        _state["seen_until"] = max(_state["seen_until"], float(ended_at))
    _forget_old(now)


def _poll() -> None:
    while True:
        try:
            with tracing.untraced():  # a poll is not a request: no trace every second
                _read_new()
        except Exception as error:  # an outage, or a bug: log it and keep polling
            logger.warning("Ended sessions not read: %s", type(error).__name__)
        time.sleep(POLL_SECONDS)


def _listen_in_background() -> None:
    with _lock:
        if _state["listening"]:
            return
        _state["listening"] = True
    threading.Thread(target=_poll, name="accounts-revocation", daemon=True).start()


def connect() -> None:
    events.session_revoked.connect(_on_session_revoked, dispatch_uid="revocation")
