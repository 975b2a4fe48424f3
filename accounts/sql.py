"""How the raw SQL of the aggregates (`user_sql`, `session_sql`, `otp_sql`) is run."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections


@contextmanager
def cursor() -> Iterator:
    """A cursor for one hot-path statement.

    On PostgreSQL with `DATABASE_PREPARED_STATEMENTS` it is a plain psycopg cursor that
    binds parameters on the server, so the connection prepares the statement after a
    few runs and PostgreSQL stops parsing and planning it on every request; otherwise it
    is Django's own cursor. Either way the connection is opened and health-checked as
    Django does, and driver errors come out as `django.db` errors.
    """
    db = connections[DEFAULT_DB_ALIAS]
    if getattr(db, "prepared_statements", False):
        with db.wrap_database_errors, db.server_binding_cursor() as raw:
            yield raw
    else:
        with db.cursor() as django_cursor:
            yield django_cursor
