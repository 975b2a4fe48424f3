"""Raw SQL of the one-time-code aggregate, for the send and code-login hot paths.

A send is one upsert on both engines: it makes the number's new code live only where
the cooldown and the hourly cap allow, and hands back the sliding hour of sends; on
PostgreSQL a pruning send (see `reserve`) deletes dead rows in the same statement. The
row lock that the upsert takes is what makes 50 simultaneous sends text once. The
engine texts differ only in their JSON functions (PostgreSQL's jsonb, SQLite's JSON1)
and sit side by side here; the 50-way race tests run on both.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction

from . import sql
from .models import Session

# The send log (`recent_sends`) is a JSON array of Unix times, rounded to the
# millisecond so that SQLite's JSON functions (15 significant digits) keep them exact.
RESERVE = {
    "postgresql": """
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
# Dead rows a pruning send deletes: the 64 oldest, through the index on expires_at,
# which stops at the first live one. The batch is part of the text, not a parameter:
# with LIMIT unknown, PostgreSQL's generic plan of a prepared prune costs a million-row
# table as a whole, so it plans the statement afresh on every run.
PRUNE = {
    "postgresql": """
DELETE FROM accounts_otpchallenge WHERE id IN (
  SELECT id FROM accounts_otpchallenge
  WHERE expires_at < %(prune_before)s AND phone_number <> %(phone)s
  ORDER BY expires_at LIMIT 64 FOR UPDATE SKIP LOCKED
)
""",
    "sqlite": """
DELETE FROM accounts_otpchallenge WHERE id IN (
  SELECT id FROM accounts_otpchallenge
  WHERE expires_at < %(prune_before)s AND phone_number <> %(phone)s
  ORDER BY expires_at LIMIT 64
)
""",
}
# PostgreSQL runs the prune as a CTE of the upsert; SQLite, which has no data-modifying
# WITH, as a statement of its own.
RESERVE_AND_PRUNE = {
    "postgresql": "WITH pruned AS (" + PRUNE["postgresql"] + ")" + RESERVE["postgresql"],
}
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
    prune_before: datetime | None,
) -> list[float] | None:
    """Make a send (and its code, when `code_hash` is given) the number's latest, where
    no send came after `cooldown_from` and fewer than `per_hour` after `hour_ago`; with
    `prune_before`, also delete up to 64 rows that died before it.
    Returns the sends of the last hour, this one last; None when a limit refused it."""
    ops = connection.ops
    vendor = connection.vendor
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
    }
    if prune_before is not None:
        params["prune_before"] = ops.adapt_datetimefield_value(prune_before)
    with sql.cursor() as cursor:
        if prune_before is not None and vendor in RESERVE_AND_PRUNE:
            cursor.execute(RESERVE_AND_PRUNE[vendor], params)
            row = cursor.fetchone()
        else:
            cursor.execute(RESERVE[vendor], params)
            row = cursor.fetchone()
            if prune_before is not None:
                cursor.execute(PRUNE[vendor], params)
    return None if row is None else _sends(row[0])


def recent_sends(phone: str) -> list[float]:
    with sql.cursor() as cursor:
        cursor.execute(RECENT_SENDS, {"phone": phone})
        row = cursor.fetchone()
    return [] if row is None else _sends(row[0])


def _sends(value) -> list[float]:
    return sorted(json.loads(value) if isinstance(value, str) else value)


# A code login consumes the number's live code, and with a right one creates or touches
# the account and opens its session. On PostgreSQL that is one statement: a wrong code
# counts an attempt instead, and an inactive account gets no session (its code is spent).
# `accepted` is NULL when the number had no live code.
CODE_LOGIN = """
WITH challenge AS (
  UPDATE accounts_otpchallenge
  SET used_at = CASE WHEN code_hash = %(code_hash)s THEN %(now)s END,
      attempts = attempts + CASE WHEN code_hash = %(code_hash)s THEN 0 ELSE 1 END
  WHERE phone_number = %(phone)s AND used_at IS NULL AND expires_at > %(now)s
    AND attempts < %(max_attempts)s
  RETURNING code_hash = %(code_hash)s AS accepted
), account AS (
  INSERT INTO accounts_user AS u (phone_number, password, last_login, is_superuser,
    is_active, is_staff, date_joined, failed_logins, locked_until)
  SELECT %(phone)s, %(unusable_password)s, %(now)s, false, true, false, %(now)s, 0, NULL
  FROM challenge WHERE accepted
  ON CONFLICT (phone_number) DO UPDATE
    SET last_login = excluded.last_login, failed_logins = 0, locked_until = NULL
    WHERE u.is_active
  RETURNING id, password, last_login, is_superuser, phone_number, is_active, is_staff,
    date_joined, failed_logins, locked_until, xmax = 0 AS created
), opened AS (
  INSERT INTO accounts_session (id, user_id, method, created_at, last_refreshed_at,
    expires_at, generation, user_agent, client_ip, revoked_at, revoked_reason)
  SELECT %(session_id)s, id, 'code', %(now)s, NULL, %(session_expires_at)s, 1,
    %(user_agent)s, %(client_ip)s, NULL, ''
  FROM account
)
SELECT (SELECT accepted FROM challenge), account.*
FROM (SELECT 1) AS one LEFT JOIN account ON true
"""
# SQLite: the same steps as four statements in one write transaction.
CONSUME_CODE = """
UPDATE accounts_otpchallenge
SET used_at = CASE WHEN code_hash = %(code_hash)s THEN %(now)s END,
    attempts = attempts + CASE WHEN code_hash = %(code_hash)s THEN 0 ELSE 1 END
WHERE phone_number = %(phone)s AND used_at IS NULL AND expires_at > %(now)s
  AND attempts < %(max_attempts)s
RETURNING code_hash = %(code_hash)s
"""
ADD_ACCOUNT = """
INSERT INTO accounts_user (phone_number, password, last_login, is_superuser, is_active,
  is_staff, date_joined, failed_logins, locked_until)
VALUES (%(phone)s, %(unusable_password)s, %(now)s, false, true, false, %(now)s, 0, NULL)
ON CONFLICT (phone_number) DO NOTHING
RETURNING id
"""
TOUCH_ACCOUNT = """
UPDATE accounts_user SET last_login = %(now)s, failed_logins = 0, locked_until = NULL
WHERE phone_number = %(phone)s AND is_active
RETURNING id, password, last_login, is_superuser, phone_number, is_active, is_staff,
  date_joined, failed_logins, locked_until
"""
OPEN_SESSION = """
INSERT INTO accounts_session (id, user_id, method, created_at, last_refreshed_at,
  expires_at, generation, user_agent, client_ip, revoked_at, revoked_reason)
VALUES (%(session_id)s, %(user_id)s, 'code', %(now)s, NULL, %(session_expires_at)s, 1,
  %(user_agent)s, %(client_ip)s, NULL, '')
"""


@dataclass(frozen=True)
class CodeLogin:
    accepted: bool | None  # None: the number had no live code
    account: tuple | None  # its columns in model order, when a session was opened
    created: bool = False


def log_in_with_code(
    phone: str,
    *,
    code_hash: str,
    now: datetime,
    max_attempts: int,
    unusable_password: str,
    session_id: uuid.UUID,
    session_expires_at: datetime,
    user_agent: str,
    client_ip: str,
) -> CodeLogin:
    """Check a code against the number's live one (see CODE_LOGIN)."""
    ops = connection.ops
    params = {
        "phone": phone,
        "code_hash": code_hash,
        "now": ops.adapt_datetimefield_value(now),
        "max_attempts": max_attempts,
        "unusable_password": unusable_password,
        "session_id": Session._meta.pk.get_db_prep_value(session_id, connection),
        "session_expires_at": ops.adapt_datetimefield_value(session_expires_at),
        "user_agent": user_agent,
        "client_ip": client_ip,
    }
    if connection.vendor == "postgresql":
        with sql.cursor() as cursor:
            cursor.execute(CODE_LOGIN, params)
            accepted, *account = cursor.fetchone()
        if account[0] is None:
            return CodeLogin(accepted, None)
        return CodeLogin(accepted, tuple(account[:-1]), created=account[-1])
    with transaction.atomic(), sql.cursor() as cursor:
        cursor.execute(CONSUME_CODE, params)
        row = cursor.fetchone()
        if row is None or not row[0]:
            return CodeLogin(None if row is None else False, None)
        cursor.execute(ADD_ACCOUNT, params)
        created = cursor.fetchone() is not None
        cursor.execute(TOUCH_ACCOUNT, params)
        account = cursor.fetchone()
        if account is None:  # inactive: the code is spent, no session
            return CodeLogin(True, None)
        cursor.execute(OPEN_SESSION, {**params, "user_id": account[0]})
    return CodeLogin(True, tuple(account), created=created)
