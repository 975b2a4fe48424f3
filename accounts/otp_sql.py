"""Raw SQL of the one-time-code aggregate, for the send and code-login hot paths.

A send is one upsert on both engines: it makes the number's new code live only where
the cooldown and the hourly cap allow, and hands back the sliding hour of sends; on
PostgreSQL the same statement also prunes two dead rows. The row lock that the upsert
takes is what makes 50 simultaneous sends text once. The engine texts differ only in
their JSON functions (PostgreSQL's jsonb, SQLite's JSON1) and sit side by side here;
the 50-way race tests run on both.
"""

from __future__ import annotations

import json
from datetime import datetime

from django.db import connection

from . import sql

# The send log (`recent_sends`) is a JSON array of Unix times, rounded to the
# millisecond so that SQLite's JSON functions (15 significant digits) keep them exact.
RESERVE = {
    "postgresql": """
WITH pruned AS (
  DELETE FROM accounts_otpchallenge WHERE id IN (
    SELECT id FROM accounts_otpchallenge
    WHERE expires_at < %(prune_before)s AND phone_number <> %(phone)s
    ORDER BY expires_at LIMIT %(prune)s FOR UPDATE SKIP LOCKED
  )
)
INSERT INTO accounts_otpchallenge AS c
  (phone_number, code_hash, sent_at, expires_at, attempts, used_at, recent_sends)
VALUES (%(phone)s, %(code_hash)s, %(now)s, %(expires_at)s, 0, NULL, %(first)s::jsonb)
ON CONFLICT (phone_number) DO UPDATE SET
  code_hash = excluded.code_hash, sent_at = excluded.sent_at,
  expires_at = excluded.expires_at, attempts = 0, used_at = NULL,
  recent_sends = COALESCE((
    SELECT jsonb_agg(j ORDER BY j::float8) FROM jsonb_array_elements(c.recent_sends) AS e(j)
    WHERE j::float8 > %(hour_ago)s
  ), '[]'::jsonb) || excluded.recent_sends
WHERE NOT EXISTS (
    SELECT 1 FROM jsonb_array_elements(c.recent_sends) AS e(j)
    WHERE j::float8 > %(cooldown_from)s
  )
  AND (
    SELECT count(*) FROM jsonb_array_elements(c.recent_sends) AS e(j)
    WHERE j::float8 > %(hour_ago)s
  ) < %(per_hour)s
RETURNING recent_sends
""",
    "sqlite": """
INSERT INTO accounts_otpchallenge AS c
  (phone_number, code_hash, sent_at, expires_at, attempts, used_at, recent_sends)
VALUES (%(phone)s, %(code_hash)s, %(now)s, %(expires_at)s, 0, NULL, %(first)s)
ON CONFLICT (phone_number) DO UPDATE SET
  code_hash = excluded.code_hash, sent_at = excluded.sent_at,
  expires_at = excluded.expires_at, attempts = 0, used_at = NULL,
  recent_sends = json_insert((
    SELECT json_group_array(value) FROM (
      SELECT value FROM json_each(c.recent_sends) WHERE value > %(hour_ago)s ORDER BY value
    )
  ), '$[#]', json(%(stamp)s))
WHERE NOT EXISTS (
    SELECT 1 FROM json_each(c.recent_sends) WHERE value > %(cooldown_from)s
  )
  AND (
    SELECT count(*) FROM json_each(c.recent_sends) WHERE value > %(hour_ago)s
  ) < %(per_hour)s
RETURNING recent_sends
""",
}
# SQLite has no data-modifying WITH: there the prune is its own statement. Both take
# the oldest dead rows through the index on expires_at, which stops at the first live one.
PRUNE = """
DELETE FROM accounts_otpchallenge WHERE id IN (
  SELECT id FROM accounts_otpchallenge
  WHERE expires_at < %(prune_before)s AND phone_number <> %(phone)s
  ORDER BY expires_at LIMIT %(prune)s
)
"""
RECENT_SENDS = "SELECT recent_sends FROM accounts_otpchallenge WHERE phone_number = %(phone)s"


def reserve(
    phone: str,
    *,
    code_hash: str,
    now: datetime,
    expires_at: datetime,
    stamp: float,
    hour_ago: float,
    cooldown_from: float,
    per_hour: int,
    prune_before: datetime,
    prune: int,
) -> list[float] | None:
    """Make a send (and its code, when `code_hash` is given) the number's latest, where
    no send came after `cooldown_from` and fewer than `per_hour` after `hour_ago`.
    Returns the sends of the last hour, this one last; None when a limit refused it."""
    ops = connection.ops
    params = {
        "phone": phone,
        "code_hash": code_hash,
        "now": ops.adapt_datetimefield_value(now),
        "expires_at": ops.adapt_datetimefield_value(expires_at),
        "first": json.dumps([stamp]),
        "stamp": json.dumps(stamp),
        "hour_ago": hour_ago,
        "cooldown_from": cooldown_from,
        "per_hour": per_hour,
        "prune_before": ops.adapt_datetimefield_value(prune_before),
        "prune": prune,
    }
    with sql.cursor() as cursor:
        cursor.execute(RESERVE[connection.vendor], params)
        row = cursor.fetchone()
        if connection.vendor != "postgresql":
            cursor.execute(PRUNE, params)
    return None if row is None else _sends(row[0])


def recent_sends(phone: str) -> list[float]:
    with sql.cursor() as cursor:
        cursor.execute(RECENT_SENDS, {"phone": phone})
        row = cursor.fetchone()
    return [] if row is None else _sends(row[0])


def _sends(value) -> list[float]:
    return sorted(json.loads(value) if isinstance(value, str) else value)
