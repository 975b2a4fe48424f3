from __future__ import annotations

from typing import cast

from django.http import HttpRequest
from graphql_jwt.settings import jwt_settings

from accounts.errors import AccountsError, InvalidToken
from accounts.flows.token_exchange import authenticate
from accounts.flows.use_case import Caller
from accounts.models import User

_UNKNOWN = object()
_PREFIXES = {jwt_settings.JWT_AUTH_HEADER_PREFIX.lower(), "bearer"}


def access_token_from_header(request: HttpRequest) -> str | None:
    """The token of an `Authorization: JWT <token>` header (`Bearer` works too).

    Cookies are never read, which is why /graphql needs no CSRF protection.
    """
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header:
        return None
    parts = header.split()
    # A JWT is ASCII; the header is the one place this door reads it from.
    if len(parts) != 2 or parts[0].lower() not in _PREFIXES or not parts[1].isascii():
        raise InvalidToken(reason="malformed Authorization header")
    return parts[1]


def current_caller(request: HttpRequest) -> Caller | None:
    """Who sent this request, worked out once per request."""
    found = getattr(request, "_accounts_auth", _UNKNOWN)
    if found is _UNKNOWN:
        try:
            found = authenticate(access_token=access_token_from_header(request))
        except AccountsError as error:
            found = error
        setattr(request, "_accounts_auth", found)  # noqa: B010 (HttpRequest declares none)
    if isinstance(found, AccountsError):
        raise found
    return cast(Caller | None, found)


def current_user(request: HttpRequest) -> User | None:
    caller = current_caller(request)
    return caller.user if caller is not None else None
