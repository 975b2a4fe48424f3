"""Hooks that fit django-graphql-jwt to this user model and to hashed refresh tokens.

Named in `settings.GRAPHQL_JWT`; the library calls them.
"""

from __future__ import annotations

import secrets
import time

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


def user_id_from_payload(payload: dict) -> str | None:
    subject = payload.get("sub")
    valid = isinstance(subject, str) and subject.isdigit() and len(subject) <= 18
    return subject if valid else None


def get_active_user(user_id: str) -> User | None:
    return User.objects.filter(pk=int(user_id), is_active=True).first()


def get_live_refresh_token(refresh_token_model, token: str, context=None) -> RefreshToken:
    return refresh_token_model.objects.get(token=hash_refresh_token(token), revoked__isnull=True)
