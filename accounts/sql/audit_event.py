"""Raw SQL of the audit trail: a batch of rows in one statement.

PostgreSQL takes the batch with COPY (a few microseconds a row, one round trip);
SQLite, in the same process, with one `executemany`. Rows arrive as `audit.Row`s;
the values are made ready for each engine here, in the writer, not in the request
that recorded them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from django.db import connection

from accounts.models import AuditEvent

# The columns a row fills, in the order `audit.record` builds its tuples; a model change
# that moves them fails here, at import, not in a writer thread.
ROW = (
    "at",
    "event",
    "outcome",
    "account_id",
    "phone_number",
    "client_network",
    "session_id",
    "detail",
)
FIELDS = [field for field in AuditEvent._meta.concrete_fields if field.column != "id"]
assert tuple(field.column for field in FIELDS) == ROW, "AuditEvent's columns moved"

_COLUMNS = ", ".join(ROW)
_TABLE = AuditEvent._meta.db_table
COPY = f"COPY {_TABLE} ({_COLUMNS}) FROM STDIN"
INSERT = f"INSERT INTO {_TABLE} ({_COLUMNS}) VALUES ({', '.join(['%s'] * len(ROW))})"  # noqa: S608 (names from the model)


def insert(rows: Sequence[tuple]) -> None:
    """Write `rows` (at as Unix time, event, outcome, account id, masked number, client
    network, session id as text or None, detail) in one statement."""
    ready = [
        (
            datetime.fromtimestamp(at, UTC),
            event,
            outcome,
            account,
            number,
            network,
            _uuid(sid),
            detail,
        )
        for at, event, outcome, account, number, network, sid, detail in rows
    ]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(COPY) as copy:
                for row in ready:
                    copy.write_row(row)
        else:
            cursor.executemany(
                INSERT,
                [
                    [
                        field.get_db_prep_value(value, connection)
                        for field, value in zip(FIELDS, row, strict=True)
                    ]
                    for row in ready
                ],
            )


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:  # not a session's id: the row is kept without it
        return None
