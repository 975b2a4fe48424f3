"""How the raw SQL of the aggregates (`user_sql`, `session_sql`, `otp_sql`) is run."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection


@contextmanager
def cursor() -> Iterator:
    """A cursor for one hot-path statement.

    On PostgreSQL with `DATABASE_PREPARED_STATEMENTS` it binds parameters on the server,
    so the connection prepares the statement after a few runs; otherwise it is Django's
    own cursor. Either way the connection is opened and health-checked as Django does,
    and driver errors come out as `django.db` errors.
    """
    with connection.cursor() as django_cursor:
        if not getattr(connection, "prepared_statements", False):
            yield django_cursor
            return
        import psycopg

        with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as raw:
            yield raw
