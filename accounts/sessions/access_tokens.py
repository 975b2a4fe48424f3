"""Access tokens, made and checked here and nowhere else: `issue` and `check` for the
use cases, and the hooks that fit django-graphql-jwt to this user model and to the key
set of `accounts.keys` (named in `settings.GRAPHQL_JWT`). Refresh tokens belong to
sessions: see `accounts.sessions.lifecycle`.
"""

from __future__ import annotations

import base64
import functools
import json
import secrets
import time
from datetime import timedelta

import jwt
from django.conf import settings
from graphql_jwt.exceptions import JSONWebTokenError
from graphql_jwt.settings import jwt_settings
from graphql_jwt.utils import get_payload
from jwt.algorithms import HMACAlgorithm
from jwt.api_jws import PyJWS

from accounts.errors import InvalidToken
from accounts.models import User
from accounts.sessions import claims as custom_claims
from accounts.sessions.keys import SYMMETRIC, key_set
from accounts.sql import user as user_sql


def issue(user_id: int, phone_number: str, session_id: str | None) -> tuple[str, dict]:
    """A new signed access token for an account's session, and its claims."""
    payload = claims(user_id, phone_number, session_id)
    payload.update(custom_claims.of_hook(user_id, session_id))
    return jwt_settings.JWT_ENCODE_HANDLER(payload), payload


def check(token: str) -> dict:
    """The claims of a valid, unexpired access token with a subject; `InvalidToken`
    for any other token."""
    try:
        payload = get_payload(token)
    except JSONWebTokenError as error:
        raise InvalidToken(reason=str(error)) from None
    if not isinstance(payload, dict) or user_id_from_payload(payload) is None:
        raise InvalidToken(reason="payload without a subject")
    return payload


def jwt_payload(user: User, context=None, *, session_id: str | None = None) -> dict:
    payload = claims(user.pk, user.phone_number.as_e164, session_id)
    payload.update(custom_claims.of_hook(user.pk, session_id))
    return payload


def claims(user_id: int, phone_number: str, session_id: str | None) -> dict:
    """The claims of a new access token for an account (its id and E.164 number)."""
    issued_at = int(time.time())
    payload = {
        "sub": str(user_id),
        "phoneNumber": phone_number,
        "iat": issued_at,
        "exp": issued_at + int(jwt_settings.JWT_EXPIRATION_DELTA.total_seconds()),
        "origIat": issued_at,
        "jti": secrets.token_hex(16),  # makes every token distinct, even within one second
        "iss": settings.JWT_ISSUER,
    }
    if session_id is not None:
        payload["sid"] = session_id
    if settings.JWT_AUDIENCE:
        payload["aud"] = settings.JWT_AUDIENCE
    return payload


class _PreparedHMAC(HMACAlgorithm):
    """PyJWT's HMAC, with its checks of the key (not a PEM, SSH or DER key, not a JWK),
    which cost more than the signature, run once per key instead of on every token."""

    @functools.lru_cache(maxsize=4)  # noqa: B019 (a few module-lifetime instances)
    def prepare_key(self, key):
        return super().prepare_key(key)


_signer = PyJWS()
_signer.unregister_algorithm(SYMMETRIC)
_signer.register_algorithm(SYMMETRIC, _PreparedHMAC(HMACAlgorithm.SHA256))


def jwt_encode(payload: dict, context=None) -> str:
    """Sign with the first key of the key set, naming it in the header's `kid`: what
    `jwt.encode` makes, through a signer that prepares each key once."""
    keys = key_set()
    return _signer.encode(
        json.dumps(payload, separators=(",", ":")).encode(),
        keys.signing.signing_key,
        algorithm=keys.algorithm,
        headers={"kid": keys.signing.kid},
    )


def leeway_seconds() -> float:
    """JWT_LEEWAY in seconds (django-graphql-jwt takes a number or a timedelta)."""
    leeway = jwt_settings.JWT_LEEWAY
    return leeway.total_seconds() if isinstance(leeway, timedelta) else float(leeway)


def jwt_decode(token: str, context=None) -> dict:
    """Verify with the key the header's `kid` names, by the configured algorithm only
    (so no HS256 token passes when keys are asymmetric, and `alg: none` never does),
    with `exp`, `iat`, `sub` and the issuer required, and the audience when one is set.

    A token that passed is remembered (`verified`) until it expires, so a client that
    presents its token again costs a dictionary look-up, not a decode.
    """
    keys = key_set()
    leeway = leeway_seconds()
    context_key = (keys, settings.JWT_ISSUER, settings.JWT_AUDIENCE, leeway)
    payload = verified.get(token, context_key)
    if payload is None:
        payload = _decode(token, keys, leeway)
        verified.put(token, context_key, payload, expires=payload["exp"] + leeway)
    return dict(payload)


class VerifiedTokens:
    """Tokens that passed `jwt_decode` in this process, each until its `exp` (with the
    leeway), at most JWT_VERIFY_CACHE_SIZE of them, oldest out first.

    Everything the check depends on besides the token and the clock (the key set, the
    issuer, the audience, the leeway) is the entry's context: when it changes, as when a
    key is rotated out, the entry no longer answers. Only `exp` can turn a token bad over
    time; access tokens are not revocable, so nothing else can.
    """

    def __init__(self) -> None:
        self._entries: dict[str, tuple[tuple, float, dict]] = {}

    def get(self, token: str, context_key: tuple) -> dict | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        context, expires, payload = entry
        if context is not context_key and context != context_key:
            return None
        if time.time() >= expires:
            self._entries.pop(token, None)
            return None
        return payload

    def put(self, token: str, context_key: tuple, payload: dict, *, expires: float) -> None:
        size = settings.JWT_VERIFY_CACHE_SIZE
        if size <= 0:
            return
        while len(self._entries) >= size:
            try:
                del self._entries[next(iter(self._entries))]
            except (KeyError, RuntimeError, StopIteration):  # emptied by another thread
                break
        self._entries[token] = (context_key, expires, payload)


verified = VerifiedTokens()


def _decode(token: str, keys, leeway: float) -> dict:
    kid = _unverified_kid(token)
    if kid is None and keys.algorithm == SYMMETRIC:
        key = keys.signing  # issued before tokens carried a kid
    else:
        key = keys.find(kid) if isinstance(kid, str) else None
    if key is None:
        raise jwt.InvalidTokenError("unknown kid")
    return jwt.decode(
        token,
        key.verifying_key,
        algorithms=[keys.algorithm],
        options={"require": ["exp", "iat", "sub", "iss"], "verify_exp": True},
        issuer=settings.JWT_ISSUER,
        audience=settings.JWT_AUDIENCE or None,
        leeway=leeway,
    )


def _unverified_kid(token: str) -> object:
    """The `kid` of a token's header, read only to pick the key: `jwt.decode` then
    checks the whole token, header included (PyJWT's own header reader would parse
    the token a second time)."""
    header = token.partition(".")[0]
    try:
        fields = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (ValueError, TypeError, RecursionError):
        raise jwt.DecodeError("Invalid header") from None
    return fields.get("kid") if isinstance(fields, dict) else None


def user_id_from_payload(payload: dict) -> str | None:
    subject = payload.get("sub")
    valid = isinstance(subject, str) and subject.isdigit() and len(subject) <= 18
    return subject if valid else None


def get_active_user(user_id: str) -> User | None:
    return user_sql.active_user(int(user_id))
