"""Raw SQL of the session aggregate, for the refresh hot path.

Rotation is one statement on both engines: it advances the session from the token's
generation only while the session is live and its user active, and hands back what the
new access token needs, so a refresh costs one round trip to the database. PostgreSQL
and SQLite (3.35+) share the text; the concurrency tests run it on both.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection

from accounts.models import Session
from accounts.sql import cursor

ROTATE = """
UPDATE accounts_session
SET generation = generation + 1, last_refreshed_at = %s
WHERE id = %s AND generation = %s AND revoked_at IS NULL AND expires_at > %s
  AND EXISTS (
    SELECT 1 FROM accounts_user WHERE accounts_user.id = accounts_session.user_id AND is_active
  )
RETURNING expires_at, user_id,
  (SELECT phone_number FROM accounts_user WHERE accounts_user.id = accounts_session.user_id)
"""


@dataclass(frozen=True)
class LiveSession:
    """What a new access token and refresh token need of a session, and no more."""

    session_id: uuid.UUID
    generation: int  # the current one
    expires_at: datetime
    user_id: int
    phone_number: str  # the account's, E.164

    @classmethod
    def of(cls, session: Session) -> LiveSession:
        return cls(
            session.pk,
            session.generation,
            session.expires_at,
            session.user_id,
            session.user.phone_number.as_e164,
        )


def rotate(session_id: uuid.UUID, generation: int, now: datetime) -> LiveSession | None:
    """Advance a live session from `generation`; None when it was not there to advance."""
    ops = connection.ops
    when = ops.adapt_datetimefield_value(now)
    key = Session._meta.pk.get_db_prep_value(session_id, connection)
    with cursor() as sql_cursor:
        sql_cursor.execute(ROTATE, [when, key, generation, when])
        row = sql_cursor.fetchone()
    if row is None:
        return None
    expires_at, user_id, phone_number = row
    if isinstance(expires_at, str):  # SQLite hands datetimes back as text
        expires_at = datetime.fromisoformat(expires_at).replace(tzinfo=UTC)
    return LiveSession(session_id, generation + 1, expires_at, user_id, phone_number)
