"""Sessions and their refresh tokens: open, rotate, revoke, list.

A session is one login, kept as one row. Its refresh token of generation `g` is
`<session id>.<g>.<MAC>`, the MAC an HMAC-SHA256 of the id and `g` under SECRET_KEY: a
token is checked before the database is asked anything, nothing about it is stored, and
the token that replaces it is known in advance, so a retry gets the same one.

Rotation is one conditional UPDATE that advances the row from the token's generation.
When it matches nothing, the row says why: a retry of the latest rotation within
`JWT_REFRESH_TOKEN_REUSE_GRACE` gets the same new token; an older generation is a
replay of a rotated token, so the session ends (the whole chain rotated from that login,
whoever holds it now).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.signals import post_save, pre_save
from django.utils import timezone
from django.utils.crypto import salted_hmac
from graphql_jwt.settings import jwt_settings

from accounts.models import RefreshToken, Session, User, hash_refresh_token
from accounts.outbound import events, webhooks
from accounts.sessions.keys import b64url
from accounts.sql import session as session_sql
from accounts.sql.session import LiveSession

_MAC_SALT = "accounts.sessions.refresh"
_TOKEN = re.compile(r"([0-9a-f]{32})\.([1-9][0-9]{0,17})\.([A-Za-z0-9_-]{43})")
_LEGACY_TOKEN = re.compile(r"[0-9a-f]{64}")
_CLIENT_IP_LENGTH = Session._meta.get_field("client_ip").max_length


@dataclass(frozen=True)
class Rotation:
    session: LiveSession | None
    refresh_token: str = ""
    error: str = ""  # why the rotation was refused, for the log
    reuse_detected: bool = False
    retried: bool = False  # a retry of the latest rotation, within the grace window


def _mac(session_id: uuid.UUID, generation: int) -> str:
    """Django's salted_hmac(_MAC_SALT, "<id>.<generation>") under SECRET_KEY, with its
    key derived once per secret rather than on every token."""
    value = f"{session_id.hex}.{generation}".encode()
    return b64url(hmac.new(_mac_key(settings.SECRET_KEY), value, hashlib.sha256).digest())


@functools.lru_cache(maxsize=2)
def _mac_key(secret: str) -> bytes:
    return hashlib.sha256((_MAC_SALT + secret).encode()).digest()


def refresh_token(session_id: uuid.UUID, generation: int) -> str:
    return f"{session_id.hex}.{generation}.{_mac(session_id, generation)}"


def parse(raw: str) -> tuple[uuid.UUID, int] | None:
    """The session id and generation of an authentic refresh token; None otherwise."""
    match = _TOKEN.fullmatch(raw)
    if match is None:
        return None
    session_id, generation = uuid.UUID(match[1]), int(match[2])
    if not hmac.compare_digest(match[3], _mac(session_id, generation)):
        return None
    return session_id, generation


def clean_client_ip(client_ip: str) -> str:
    return client_ip[:_CLIENT_IP_LENGTH]


def clean_user_agent(user_agent: str) -> str:
    text = user_agent.replace("\x00", "")[: Session.USER_AGENT_LENGTH]
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, which no database column takes
        return ""
    return text


def open_session(
    user: User,
    method: str,
    *,
    user_agent: str = "",
    client_ip: str = "",
    expires_at: datetime | None = None,
    session_id: uuid.UUID | None = None,
) -> tuple[Session, str]:
    """Start a session; returns it with its first refresh token."""
    now = timezone.now()
    session = Session.objects.create(
        id=session_id or uuid.uuid4(),
        user=user,
        method=method,
        created_at=now,
        expires_at=expires_at or now + jwt_settings.JWT_REFRESH_EXPIRATION_DELTA,
        user_agent=clean_user_agent(user_agent),
        client_ip=clean_client_ip(client_ip),
    )
    return session, refresh_token(session.pk, session.generation)


def rotate(raw: str) -> Rotation:
    """Trade a refresh token for its successor (see the module's docstring)."""
    parsed = parse(raw)
    if parsed is None:
        if _LEGACY_TOKEN.fullmatch(raw):
            return upgrade_legacy(raw)
        return Rotation(None, error="malformed or forged refresh token")
    session_id, generation = parsed
    now = timezone.now()
    rotated = session_sql.rotate(session_id, generation, now)
    if rotated is not None:
        # What the new access token needs came back with the update: no other query.
        return Rotation(rotated, refresh_token(session_id, rotated.generation))

    session = Session.objects.select_related("user").filter(pk=session_id).first()
    if session is None:
        return Rotation(None, error="unknown session")
    if session.revoked_at is not None:
        return Rotation(None, error=f"session ended ({session.revoked_reason})")
    if session.expires_at <= now:
        return Rotation(None, error="session expired")
    if not session.user.is_active:
        return Rotation(None, error="inactive account")
    grace = timedelta(seconds=settings.JWT_REFRESH_TOKEN_REUSE_GRACE)
    if (
        generation == session.generation - 1
        and session.last_refreshed_at is not None
        and now - session.last_refreshed_at <= grace
    ):
        # The client lost the answer to the latest rotation: the same new token again.
        return Rotation(
            LiveSession.of(session), refresh_token(session_id, session.generation), retried=True
        )
    if generation < session.generation:
        with webhooks.atomic():
            reused = Session.objects.filter(pk=session_id)
            ended = end_sessions(reused, Session.Reason.REUSE_DETECTED)
            if ended:
                events.announce(
                    events.refresh_token_reused,
                    user_id=session.user_id,
                    session_id=str(session_id),
                )
        return Rotation(None, error="rotated refresh token reused", reuse_detected=bool(ended))
    return Rotation(None, error="refresh token ahead of its session")


def upgrade_legacy(raw: str) -> Rotation:
    """Open a session in place of a live refresh token from before sessions.

    The session's id derives from the token, so a retry within the grace window finds
    the session the first try opened and gets the same new token.
    """
    session_id = uuid.UUID(bytes=salted_hmac(_MAC_SALT, raw, algorithm="sha256").digest()[:16])
    now = timezone.now()
    with transaction.atomic():
        legacy = (
            RefreshToken.objects.select_for_update()
            .select_related("user")
            .filter(token=hash_refresh_token(raw))
            .first()
        )
        if legacy is None or legacy.expires_at <= now or not legacy.user.is_active:
            return Rotation(None, error="unknown or expired refresh token")
        if legacy.revoked is None:
            legacy.revoked, legacy.revoked_reason = now, RefreshToken.Reason.UPGRADED
            legacy.save(update_fields=["revoked", "revoked_reason"])
            session, token = open_session(
                legacy.user,
                Session.Method.LEGACY,
                expires_at=legacy.expires_at,
                session_id=session_id,
            )
            Session.objects.filter(pk=session.pk).update(created_at=legacy.created)
            return Rotation(LiveSession.of(session), token)
    grace = timedelta(seconds=settings.JWT_REFRESH_TOKEN_REUSE_GRACE)
    if legacy.revoked_reason == RefreshToken.Reason.UPGRADED and now - legacy.revoked <= grace:
        upgraded = Session.objects.select_related("user").filter(pk=session_id).first()
        if upgraded is not None and upgraded.revoked_at is None and upgraded.generation == 1:
            return Rotation(LiveSession.of(upgraded), refresh_token(session_id, 1), retried=True)
    return Rotation(None, error=f"refresh token from before sessions, {legacy.revoked_reason}")


def end_sessions(sessions, reason: str) -> int:
    """Revoke the live sessions among `sessions`; how many ended. Each ending is
    announced (`events.session_revoked`)."""
    live = list(sessions.filter(revoked_at__isnull=True).values_list("pk", "user_id"))
    if not live:
        return 0
    still_live = Session.objects.filter(pk__in=[pk for pk, _ in live], revoked_at__isnull=True)
    with webhooks.atomic():  # the endings and their session.revoked events commit together
        ended = still_live.update(revoked_at=timezone.now(), revoked_reason=reason)
        for session_id, user_id in live:
            events.announce(
                events.session_revoked, user_id=user_id, session_id=str(session_id), reason=reason
            )
    return ended


def revoke(raw: str, reason: str) -> bool:
    """End the session a refresh token (of any of its generations) belongs to."""
    parsed = parse(raw)
    if parsed is None:
        if _LEGACY_TOKEN.fullmatch(raw):
            return bool(
                RefreshToken.objects.filter(
                    token=hash_refresh_token(raw), revoked__isnull=True
                ).update(revoked=timezone.now(), revoked_reason=reason)
            )
        return False
    live = Session.objects.filter(pk=parsed[0], expires_at__gt=timezone.now())
    return bool(end_sessions(live, reason))


def live_sessions(user: User):
    return Session.objects.filter(
        user=user, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).order_by(F("last_refreshed_at").desc(nulls_last=True), "-created_at")


def end_all(user: User, reason: str, *, except_id: uuid.UUID | None = None) -> int:
    """End every session of `user` (but `except_id`), and its refresh tokens from before
    sessions."""
    sessions = Session.objects.filter(user=user)
    if except_id is not None:
        sessions = sessions.exclude(pk=except_id)
    ended = end_sessions(sessions, reason)
    legacy_reason = reason if reason in RefreshToken.Reason.values else RefreshToken.Reason.LOGOUT
    RefreshToken.objects.filter(user=user, revoked__isnull=True).update(
        revoked=timezone.now(), revoked_reason=legacy_reason
    )
    return ended


def purge(batch_size: int = 10_000) -> int:
    """Delete sessions and legacy refresh tokens past their absolute expiry."""
    total = 0
    for model in (Session, RefreshToken):
        while True:
            stale = model.objects.filter(expires_at__lt=timezone.now())
            pks: list[Any] = list(stale.values_list("pk", flat=True)[:batch_size])
            if not pks:
                break
            deleted, _ = stale.filter(pk__in=pks).delete()
            total += deleted
            if len(pks) < batch_size:
                break
    return total


def _note_activity(sender, instance, raw=False, update_fields=None, **kwargs) -> None:
    """Note whether an account about to be saved is active now."""
    if raw or instance.pk is None:
        return
    if update_fields is not None and "is_active" not in update_fields:
        return
    stored = sender._default_manager.filter(pk=instance.pk).values_list("is_active", flat=True)
    instance._was_active = bool(stored.first())


def _end_if_deactivated(sender, instance, created=False, raw=False, **kwargs) -> None:
    """A deactivated account's sessions end at once, wherever it was deactivated (the
    admin, a shell, a script), so its access tokens are refused everywhere."""
    if created or raw or not getattr(instance, "_was_active", False) or instance.is_active:
        return
    instance._was_active = False
    end_all(instance, Session.Reason.ADMIN)


def connect(user_model) -> None:
    pre_save.connect(_note_activity, sender=user_model, dispatch_uid="sessions.pre_save")
    post_save.connect(_end_if_deactivated, sender=user_model, dispatch_uid="sessions.post_save")
