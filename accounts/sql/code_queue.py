"""Raw SQL of the delivery queue: the one-time-code rows whose send is still to be
texted (`OTPChallenge.queued`, written by the send itself; see `otp_challenge`).

A delivery worker claims the oldest waiting sends for a lease (`claimed_until`), makes
their codes, and when each text has gone, takes the row off the queue. Every step after
the claim matches the lease it set, so a row that a newer send replaced (which clears
the lease) or that another worker took after the lease ran out is left alone. On
PostgreSQL claims skip the rows another worker has locked, so workers never wait on
each other; the partial index `otp_queue` holds only the waiting rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection
from django.utils.dateparse import parse_datetime

from accounts.sql import cursor

CLAIM = {
    "postgresql": """
UPDATE accounts_otpchallenge SET claimed_until = %(lease)s
WHERE id IN (
  SELECT id FROM accounts_otpchallenge
  WHERE queued AND (claimed_until IS NULL OR claimed_until < %(now)s)
  ORDER BY sent_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED
)
RETURNING id, phone_number, sent_at, language, charges
""",
    "sqlite": """
UPDATE accounts_otpchallenge SET claimed_until = %(lease)s
WHERE id IN (
  SELECT id FROM accounts_otpchallenge
  WHERE queued AND (claimed_until IS NULL OR claimed_until < %(now)s)
  ORDER BY sent_at LIMIT %(limit)s
)
RETURNING id, phone_number, sent_at, language, charges
""",
}
# Each claimed row's code, by id: `codes` is a JSON object {id: keyed hash}.
MAKE_CODES = {
    "postgresql": """
UPDATE accounts_otpchallenge AS c
SET code_hash = v.code_hash, expires_at = %(expires_at)s, attempts = 0, used_at = NULL
FROM jsonb_each_text(%(codes)s::jsonb) AS v(id, code_hash)
WHERE c.id = v.id::bigint AND c.queued AND c.claimed_until = %(lease)s
RETURNING c.id
""",
    "sqlite": """
UPDATE accounts_otpchallenge
SET code_hash = (
      SELECT value FROM json_each(%(codes)s)
      WHERE key = CAST(accounts_otpchallenge.id AS TEXT)  -- json_each has an id of its own
    ),
    expires_at = %(expires_at)s, attempts = 0, used_at = NULL
WHERE id IN (SELECT CAST(key AS INTEGER) FROM json_each(%(codes)s))
  AND queued AND claimed_until = %(lease)s
RETURNING id
""",
}
FINISH = {
    "postgresql": """
UPDATE accounts_otpchallenge SET queued = false, claimed_until = NULL
WHERE id IN (SELECT value::bigint FROM jsonb_array_elements_text(%(ids)s::jsonb))
  AND claimed_until = %(lease)s
""",
    "sqlite": """
UPDATE accounts_otpchallenge SET queued = 0, claimed_until = NULL
WHERE id IN (SELECT value FROM json_each(%(ids)s)) AND claimed_until = %(lease)s
""",
}
OLDEST = "SELECT min(sent_at) FROM accounts_otpchallenge WHERE queued"


@dataclass(frozen=True)
class Waiting:
    """A claimed send: its row, number (E.164), the time it was asked for, the language
    of its text, the lease that holds it and what it was counted in (see
    `otp.Charges`; None for a row written before charges were kept)."""

    id: int
    phone: str
    sent_at: datetime
    language: str
    lease: datetime
    charges: dict | None = None


def claim(limit: int, *, now: datetime, lease: datetime) -> list[Waiting]:
    """Take up to `limit` waiting sends, oldest first, until `lease`."""
    ops = connection.ops
    params = {
        "now": ops.adapt_datetimefield_value(now),
        "lease": ops.adapt_datetimefield_value(lease),
        "limit": limit,
    }
    with cursor() as sql_cursor:
        sql_cursor.execute(CLAIM[connection.vendor], params)
        rows = sql_cursor.fetchall()
    return [
        Waiting(row_id, str(phone), _moment(sent_at), language, lease, _charges(charges))
        for row_id, phone, sent_at, language, charges in rows
    ]


def make_codes(codes: dict[int, str], *, lease: datetime, expires_at: datetime) -> set[int]:
    """Make each claimed row's code live (`codes`: row id -> keyed hash of its code), where
    the lease still holds; the ids of the rows made."""
    if not codes:
        return set()
    ops = connection.ops
    params = {
        "codes": json.dumps({str(row_id): code_hash for row_id, code_hash in codes.items()}),
        "lease": ops.adapt_datetimefield_value(lease),
        "expires_at": ops.adapt_datetimefield_value(expires_at),
    }
    with cursor() as sql_cursor:
        sql_cursor.execute(MAKE_CODES[connection.vendor], params)
        return {row[0] for row in sql_cursor.fetchall()}


def finish(ids: list[int], *, lease: datetime) -> None:
    """Take texted sends off the queue, where the lease still holds."""
    if not ids:
        return
    params = {
        "ids": json.dumps(ids),
        "lease": connection.ops.adapt_datetimefield_value(lease),
    }
    with cursor() as sql_cursor:
        sql_cursor.execute(FINISH[connection.vendor], params)


def oldest() -> datetime | None:
    """When the send that has waited longest was asked for; None when none waits."""
    with cursor() as sql_cursor:
        sql_cursor.execute(OLDEST)
        row = sql_cursor.fetchone()
    return None if row is None or row[0] is None else _moment(row[0])


def _charges(value: object) -> dict | None:
    """A stored JSON value as a dict (SQLite and raw cursors hand back text)."""
    if isinstance(value, str):
        value = json.loads(value)
    return value if isinstance(value, dict) else None


def _moment(value: datetime | str) -> datetime:
    """A stored time as an aware datetime (SQLite hands back text)."""
    moment = value if isinstance(value, datetime) else parse_datetime(value)
    if moment is None:
        raise ValueError("not a stored time")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
