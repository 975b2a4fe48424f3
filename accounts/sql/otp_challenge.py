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

from accounts.models import OTPChallenge, Session, User
from accounts.sql import columns, cursor, insert_columns

# The send log (`recent_sends`) is a JSON array of Unix times, rounded to the
# millisecond so that SQLite's JSON functions (15 significant digits) keep them exact.


def _new_challenge(recent_sends: str, charges: str) -> tuple[str, str]:
    return insert_columns(
        OTPChallenge,
        {
            "phone_number": "%(phone)s",
            "code_hash": "%(code_hash)s",
            "sent_at": "%(now)s",
            "expires_at": "%(expires_at)s",
            "attempts": "0",
            "used_at": "NULL",
            "recent_sends": recent_sends,
            "queued": "%(queued)s",
            "language": "%(language)s",
            "claimed_until": "NULL",
            "charges": charges,
        },
    )


def _reserve(first: str, sends: str, send: str, kept: str, charges: str) -> str:
    """The send's upsert, from what differs between the engines: how the send log's
    first entry is written (`first`), read as rows (`sends`, each one `send`) and
    rebuilt with the new send last (`kept`), and how the JSON of what a queued send was
    counted in is read (`charges`)."""
    names, values = _new_challenge(first, charges)
    return f"""
INSERT INTO accounts_otpchallenge AS c ({names})
VALUES ({values})
ON CONFLICT (phone_number) DO UPDATE SET
  code_hash = excluded.code_hash, sent_at = excluded.sent_at,
  expires_at = excluded.expires_at, attempts = 0, used_at = NULL,
  queued = excluded.queued, language = excluded.language, claimed_until = NULL,
  charges = excluded.charges, recent_sends = {kept}
WHERE NOT EXISTS (SELECT 1 FROM {sends} WHERE {send} > %(cooldown_from)s)
  AND (SELECT count(*) FROM {sends} WHERE {send} > %(hour_ago)s) < %(per_hour)s
RETURNING recent_sends,
  EXISTS (SELECT 1 FROM accounts_user WHERE phone_number = %(phone)s) AS has_account
"""  # noqa: S608 (the column lists come from the models, never from input)


# PostgreSQL's jsonb and SQLite's JSON1.
RESERVE = {
    "postgresql": _reserve(
        first="%(first)s::jsonb",
        sends="jsonb_array_elements(c.recent_sends) AS e(j)",
        send="j::float8",
        kept="""COALESCE((
    SELECT jsonb_agg(j ORDER BY j::float8) FROM jsonb_array_elements(c.recent_sends) AS e(j)
    WHERE j::float8 > %(hour_ago)s
  ), '[]'::jsonb) || excluded.recent_sends""",
        charges="%(charges)s::jsonb",
    ),
    "sqlite": _reserve(
        first="%(first)s",
        sends="json_each(c.recent_sends)",
        send="value",
        kept="""json_insert((
    SELECT json_group_array(value) FROM (
      SELECT value FROM json_each(c.recent_sends) WHERE value > %(hour_ago)s ORDER BY value
    )
  ), '$[#]', json(%(stamp)s))""",
        charges="%(charges)s",
    ),
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
    language: str = "",
    charges: str | None = None,
) -> tuple[list[float], bool] | None:
    """Make a send (and its code, when `code_hash` is given) the number's latest, where
    no send came after `cooldown_from` and fewer than `per_hour` after `hour_ago`; with
    `prune_before`, also delete up to 64 rows that died before it. A send without a code
    is queued for a delivery worker (`code_queue`), to be texted in `language`, with
    what it was counted in (JSON `charges`) for the worker to give back if it cannot be
    texted.
    Returns the sends of the last hour, this one last, and whether the number has an
    account; None when a limit refused it."""
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
        "queued": not code_hash,
        "language": language if not code_hash else "",
        "charges": charges,
    }
    if prune_before is not None:
        params["prune_before"] = ops.adapt_datetimefield_value(prune_before)
    with cursor() as sql_cursor:
        if prune_before is not None and vendor in RESERVE_AND_PRUNE:
            sql_cursor.execute(RESERVE_AND_PRUNE[vendor], params)
            row = sql_cursor.fetchone()
        else:
            sql_cursor.execute(RESERVE[vendor], params)
            row = sql_cursor.fetchone()
            if prune_before is not None:
                sql_cursor.execute(PRUNE[vendor], params)
    return None if row is None else (_sends(row[0]), bool(row[1]))


def recent_sends(phone: str) -> list[float]:
    with cursor() as sql_cursor:
        sql_cursor.execute(RECENT_SENDS, {"phone": phone})
        row = sql_cursor.fetchone()
    return [] if row is None else _sends(row[0])


def _sends(value) -> list[float]:
    return sorted(json.loads(value) if isinstance(value, str) else value)


# A code login's new account and new session: every column, named from the models.
_ACCOUNT = insert_columns(
    User,
    {
        "phone_number": "%(phone)s",
        "password": "%(unusable_password)s",
        "last_login": "%(now)s",
        "is_superuser": "false",
        "is_active": "true",
        "is_staff": "false",
        "date_joined": "%(now)s",
        "failed_logins": "0",
        "locked_until": "NULL",
    },
)
_ACCOUNT_COLUMNS = ", ".join(columns(User))


def _new_session(user_id: str) -> tuple[str, str]:
    return insert_columns(
        Session,
        {
            "id": "%(session_id)s",
            "user_id": user_id,
            "method": "'code'",
            "created_at": "%(now)s",
            "last_refreshed_at": "NULL",
            "expires_at": "%(session_expires_at)s",
            "generation": "1",
            "user_agent": "%(user_agent)s",
            "client_ip": "%(client_ip)s",
            "revoked_at": "NULL",
            "revoked_reason": "''",
        },
    )


_PG_SESSION = _new_session("id")
_SQLITE_SESSION = _new_session("%(user_id)s")

# A code login consumes the number's live code, and with a right one creates or touches
# the account and opens its session. On PostgreSQL that is one statement: a wrong code
# counts an attempt instead, and an inactive account gets no session (its code is spent).
# `accepted` is NULL when the number had no live code.
CODE_LOGIN = f"""
WITH challenge AS (
  UPDATE accounts_otpchallenge
  SET used_at = CASE WHEN code_hash = %(code_hash)s THEN %(now)s END,
      attempts = attempts + CASE WHEN code_hash = %(code_hash)s THEN 0 ELSE 1 END
  WHERE phone_number = %(phone)s AND used_at IS NULL AND expires_at > %(now)s
    AND attempts < %(max_attempts)s
  RETURNING code_hash = %(code_hash)s AS accepted
), account AS (
  INSERT INTO accounts_user AS u ({_ACCOUNT[0]})
  SELECT {_ACCOUNT[1]}
  FROM challenge WHERE accepted
  ON CONFLICT (phone_number) DO UPDATE
    SET last_login = excluded.last_login, failed_logins = 0, locked_until = NULL
    WHERE u.is_active
  RETURNING {_ACCOUNT_COLUMNS}, xmax = 0 AS created
), opened AS (
  INSERT INTO accounts_session ({_PG_SESSION[0]})
  SELECT {_PG_SESSION[1]}
  FROM account
)
SELECT (SELECT accepted FROM challenge), account.*
FROM (SELECT 1) AS one LEFT JOIN account ON true
"""  # noqa: S608
# SQLite: the same steps as four statements in one write transaction.
CONSUME_CODE = """
UPDATE accounts_otpchallenge
SET used_at = CASE WHEN code_hash = %(code_hash)s THEN %(now)s END,
    attempts = attempts + CASE WHEN code_hash = %(code_hash)s THEN 0 ELSE 1 END
WHERE phone_number = %(phone)s AND used_at IS NULL AND expires_at > %(now)s
  AND attempts < %(max_attempts)s
RETURNING code_hash = %(code_hash)s
"""
ADD_ACCOUNT = f"""
INSERT INTO accounts_user ({_ACCOUNT[0]})
VALUES ({_ACCOUNT[1]})
ON CONFLICT (phone_number) DO NOTHING
RETURNING id
"""  # noqa: S608
TOUCH_ACCOUNT = f"""
UPDATE accounts_user SET last_login = %(now)s, failed_logins = 0, locked_until = NULL
WHERE phone_number = %(phone)s AND is_active
RETURNING {_ACCOUNT_COLUMNS}
"""  # noqa: S608
OPEN_SESSION = f"""
INSERT INTO accounts_session ({_SQLITE_SESSION[0]})
VALUES ({_SQLITE_SESSION[1]})
"""  # noqa: S608


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
        with cursor() as sql_cursor:
            sql_cursor.execute(CODE_LOGIN, params)
            accepted, *account = sql_cursor.fetchone()
        if account[0] is None:
            return CodeLogin(accepted, None)
        return CodeLogin(accepted, tuple(account[:-1]), created=account[-1])
    with transaction.atomic(), cursor() as sql_cursor:
        sql_cursor.execute(CONSUME_CODE, params)
        row = sql_cursor.fetchone()
        if row is None or not row[0]:
            return CodeLogin(None if row is None else False, None)
        sql_cursor.execute(ADD_ACCOUNT, params)
        created = sql_cursor.fetchone() is not None
        sql_cursor.execute(TOUCH_ACCOUNT, params)
        account = sql_cursor.fetchone()
        if account is None:  # inactive: the code is spent, no session
            return CodeLogin(True, None)
        sql_cursor.execute(OPEN_SESSION, {**params, "user_id": account[0]})
    return CodeLogin(True, tuple(account), created=created)
