"""Tokens: the hooks that fit django-graphql-jwt to this user model (named in
`settings.GRAPHQL_JWT`), and the life of refresh tokens: issue, rotate, revoke.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

import jwt
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from graphql_jwt.settings import jwt_settings

from .models import RefreshToken, User, hash_refresh_token


def jwt_payload(user: User, context=None) -> dict:
    issued_at = int(time.time())
    return {
        "sub": str(user.pk),
        "phoneNumber": user.phone_number.as_e164,
        "iat": issued_at,
        "exp": issued_at + int(jwt_settings.JWT_EXPIRATION_DELTA.total_seconds()),
        "origIat": issued_at,
        "jti": secrets.token_hex(16),  # makes every token distinct, even within one second
    }


def jwt_decode(token: str, context=None) -> dict:
    """django-graphql-jwt's decoder, with the claims every token of ours carries
    required: a token without `exp` would otherwise never expire."""
    return jwt.decode(
        token,
        jwt_settings.JWT_PUBLIC_KEY or jwt_settings.JWT_SECRET_KEY,
        algorithms=[jwt_settings.JWT_ALGORITHM],
        options={"require": ["exp", "iat", "sub"], "verify_exp": True},
        leeway=jwt_settings.JWT_LEEWAY,
    )


def user_id_from_payload(payload: dict) -> str | None:
    subject = payload.get("sub")
    valid = isinstance(subject, str) and subject.isdigit() and len(subject) <= 18
    return subject if valid else None


def get_active_user(user_id: str) -> User | None:
    return User.objects.filter(pk=int(user_id), is_active=True).first()


def get_live_refresh_token(refresh_token_model, token: str, context=None) -> RefreshToken:
    return refresh_token_model.objects.get(token=hash_refresh_token(token), revoked__isnull=True)


# --- refresh tokens: issue, rotate, revoke ---------------------------------------


def _child_token(raw: str) -> str:
    """The token that replaces `raw` on rotation: the same for every retry of one
    rotation, and unguessable without both `raw` and the server's key."""
    return salted_hmac("accounts.refresh.rotation", raw, algorithm="sha256").hexdigest()


def issue_refresh_token(user: User, *, expires_at=None, raw: str | None = None) -> RefreshToken:
    """Store a new refresh token; its raw value is `.get_token()`, this once."""
    token = RefreshToken(user=user, expires_at=expires_at)
    if raw is not None:
        token._cached_token = raw
    token.save()
    return token


@dataclass(frozen=True)
class Rotation:
    token: RefreshToken | None
    error: str = ""  # why the rotation was refused, for the log
    reuse_detected: bool = False


def rotate_refresh_token(raw: str) -> Rotation:
    """Revoke a live refresh token and issue its replacement, under a row lock.

    A retry of the same rotation within `JWT_REFRESH_TOKEN_REUSE_GRACE` seconds gets
    the same replacement (the client may have lost the answer). A rotated token
    presented later is taken as stolen: every live refresh token of its user is
    revoked. Refusals are returned, not raised, so the revocation is committed.
    """
    now = timezone.now()
    child_raw = _child_token(raw)
    with transaction.atomic():
        current = (
            RefreshToken.objects.select_for_update(of=("self",))
            .select_related("user")
            .filter(token=hash_refresh_token(raw))
            .first()
        )
        if current is None:
            return Rotation(None, "unknown refresh token")
        if current.is_expired():
            return Rotation(None, "expired refresh token")
        if not current.user.is_active:
            return Rotation(None, "inactive account")
        if current.revoked is None:
            current.revoked = now
            current.revoked_reason = RefreshToken.Reason.ROTATED
            current.save(update_fields=["revoked", "revoked_reason"])
            return Rotation(
                issue_refresh_token(current.user, expires_at=current.expires_at, raw=child_raw)
            )
        if current.revoked_reason != RefreshToken.Reason.ROTATED:
            return Rotation(None, f"revoked refresh token ({current.revoked_reason})")
        grace = timedelta(seconds=settings.JWT_REFRESH_TOKEN_REUSE_GRACE)
        if now - current.revoked <= grace:
            child = RefreshToken.objects.filter(
                token=hash_refresh_token(child_raw), revoked__isnull=True
            ).first()
            if child is not None:
                child._cached_token = child_raw
                return Rotation(child)
        revoke_all_refresh_tokens(current.user, RefreshToken.Reason.REUSE_DETECTED)
        return Rotation(None, "rotated refresh token reused", reuse_detected=True)


def revoke_refresh_token(raw: str, reason: str) -> bool:
    """Revoke one live refresh token; False if there was none."""
    return bool(
        RefreshToken.objects.filter(token=hash_refresh_token(raw), revoked__isnull=True).update(
            revoked=timezone.now(), revoked_reason=reason
        )
    )


def revoke_all_refresh_tokens(user: User, reason: str) -> int:
    return RefreshToken.objects.filter(user=user, revoked__isnull=True).update(
        revoked=timezone.now(), revoked_reason=reason
    )


def purge_refresh_tokens(batch_size: int = 10_000) -> int:
    """Delete refresh tokens past their absolute expiry (revoked ones are kept until
    then, so a replay is still recognised as reuse)."""
    total = 0
    while True:
        stale = RefreshToken.objects.filter(expires_at__lt=timezone.now())
        pks = list(stale.values_list("pk", flat=True)[:batch_size])
        if not pks:
            return total
        deleted, _ = stale.filter(pk__in=pks).delete()
        total += deleted
        if len(pks) < batch_size:
            return total
