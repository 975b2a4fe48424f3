"""What every flow shares: the `use_case` wrapper, the values flows return, and the
checks of raw input that more than one flow makes."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from accounts.errors import (
    OUTAGES,
    AccountsError,
    ChallengeRequired,
    InvalidCredentials,
    InvalidPhoneNumber,
    InvalidToken,
    RateLimited,
    ServiceUnavailable,
    Unauthenticated,
)
from accounts.identity.phone import mask_phone, normalize_phone
from accounts.models import User
from accounts.outbound import audit, events
from accounts.sessions import access_tokens, lifecycle
from accounts.sql.session import LiveSession

logger = logging.getLogger("accounts")

# Longer secrets than this are refused before any hashing or parsing.
MAX_SECRET_LENGTH = 4096

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class TokenPair:
    user: User | None  # the account, on logins (a refresh needs no model of it)
    access: str
    refresh: str
    payload: dict
    refresh_expires_at: int  # Unix time, as django-graphql-jwt's refreshExpiresIn
    created: bool = False


@dataclass(frozen=True)
class Caller:
    """Who sent a request with an access token, and from which session."""

    user: User
    session_id: str | None  # None for tokens issued before sessions


@dataclass(frozen=True)
class Client:
    """Where a login comes from, as the session records it."""

    ip: str
    user_agent: str = ""


def use_case(
    *, phone: str | None = None, client_ip: str | None = None, caller: str | None = None
) -> Callable[[F], F]:
    """Log every refusal of the wrapped use case once, with its reason, and turn an
    outage of the database or the cache into `ServiceUnavailable`.

    `phone`, `client_ip` and `caller` name the keyword arguments that say whose number
    and which client the log line is about.
    """

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            # Whose request this is, for the audit rows its events make.
            client = audit.client_address.set(str(kwargs.get(client_ip) or "") if client_ip else "")
            try:
                try:
                    return function(*args, **kwargs)
                except OUTAGES as outage:
                    # Fail closed: without the database or the cache no limit can be checked.
                    raise ServiceUnavailable(reason=f"{type(outage).__name__}") from None
            except AccountsError as error:
                logger.warning(
                    "%s refused: %s%s phone=%s ip=%s",
                    function.__name__,
                    error.code,
                    f" ({error.reason})" if error.reason else "",
                    _masked(
                        kwargs.get(phone) if phone else None,
                        kwargs.get(caller) if caller else None,
                    ),
                    (kwargs.get(client_ip) if client_ip else None) or "-",
                )
                if isinstance(error, RateLimited):
                    events.announce(events.rate_limited, limit=error.limit or "other")
                elif isinstance(error, ChallengeRequired) and error.limit:
                    events.announce(events.rate_limited, limit=error.limit)
                raise
            finally:
                audit.client_address.reset(client)

        return wrapper  # type: ignore[return-value]

    return decorate


def _masked(phone_number: object, caller: Caller | None) -> str:
    if caller is not None:
        return mask_phone(caller.user.phone_number)
    return masked(phone_number)


def masked(phone_number: object) -> str:
    """Raw input's number, masked for a log line; "-" when it is no number."""
    try:
        return mask_phone(normalize_phone(phone_number))
    except InvalidPhoneNumber:
        return "-"


def signed_in(caller: Caller | None) -> Caller:
    """The caller of a use case that needs an access token; `Unauthenticated` without."""
    if caller is None:
        raise Unauthenticated()
    return caller


def require_secret(value: object) -> str:
    # A password longer than any set here cannot be right: refuse it before the hasher.
    if not isinstance(value, str) or not value or len(value) > MAX_SECRET_LENGTH:
        raise InvalidCredentials(reason="empty or oversized password")
    return value


def require_token(value: object) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_SECRET_LENGTH:
        raise InvalidToken(reason="malformed token")
    return value


def open_session(user: User, method: str, client: Client) -> TokenPair:
    """A new session for `user`, and its first token pair."""
    session, refresh_token = lifecycle.open_session(
        user, method, user_agent=client.user_agent, client_ip=client.ip
    )
    return token_pair(LiveSession.of(session), refresh_token, user=user)


def token_pair(
    session: LiveSession, refresh_token: str, *, user: User | None = None, created: bool = False
) -> TokenPair:
    access, payload = access_tokens.issue(
        session.user_id, session.phone_number, str(session.session_id)
    )
    return TokenPair(
        user=user,
        access=access,
        refresh=refresh_token,
        payload=payload,
        refresh_expires_at=int(session.expires_at.timestamp()),
        created=created,
    )
