"""Raw SQL of the hot paths, one module per table (`user`, `session`, `otp_challenge`,
`audit_event`; `code_queue` reads the code table as the delivery queue), each engine's
text side by side; this module runs it and builds its column lists from the models, so
a field added to a model cannot be left out of a hand-written statement.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import AutoField, BigAutoField, Model, SmallAutoField

_AUTO_FIELDS = (AutoField, BigAutoField, SmallAutoField)


@contextmanager
def cursor() -> Iterator[Any]:
    """A cursor for one hot-path statement.

    On PostgreSQL with `DATABASE_PREPARED_STATEMENTS` it is a plain psycopg cursor that
    binds parameters on the server, so the connection prepares the statement after a
    few runs and PostgreSQL stops parsing and planning it on every request; otherwise it
    is Django's own cursor. Either way the connection is opened and health-checked as
    Django does, and driver errors come out as `django.db` errors.
    """
    db: Any = connections[DEFAULT_DB_ALIAS]
    if getattr(db, "prepared_statements", False):
        with db.wrap_database_errors, db.server_binding_cursor() as raw:
            yield raw
    else:
        with db.cursor() as django_cursor:
            yield django_cursor


def columns(model: type[Model]) -> list[str]:
    """Every column of `model`, in its field order (the order `Model.from_db` reads)."""
    return [str(field.column) for field in model._meta.concrete_fields]


def insert_columns(model: type[Model], values: Mapping[str, str]) -> tuple[str, str]:
    """The column list and the value list of an INSERT into `model`'s table, in field
    order. `values` holds the SQL of each column but an auto-increment key; a column it
    leaves out, or one the model does not have, is an error at import, not a failed login.
    """
    wanted = [
        column
        for column, field in zip(columns(model), model._meta.concrete_fields, strict=True)
        if not isinstance(field, _AUTO_FIELDS)
    ]
    if set(wanted) != set(values):
        missing, unknown = set(wanted) - set(values), set(values) - set(wanted)
        raise LookupError(
            f"INSERT INTO {model._meta.db_table}: missing {sorted(missing)}, "
            f"unknown {sorted(unknown)}"
        )
    return ", ".join(wanted), ", ".join(values[column] for column in wanted)
