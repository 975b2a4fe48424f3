"""Raw SQL of the user aggregate, for the read hot paths.

`userStatus` and every request with an access token read one account by an indexed
column; building those queries through the ORM costs more than running them. Both
engines share the text; the models stay the source of the schema.
"""

from __future__ import annotations

import functools

from django.db import connection
from django.db.models.expressions import Col
from phonenumber_field.phonenumber import PhoneNumber

from accounts.models import User
from accounts.sql import columns, cursor

_COLUMNS = columns(User)
_ATTRIBUTES = [field.attname for field in User._meta.concrete_fields]
_PHONE = _ATTRIBUTES.index("phone_number")

PASSWORD_BY_NUMBER = "SELECT password FROM accounts_user WHERE phone_number = %s"
ACTIVE_BY_ID = (  # the column names come from the model, never from input
    f"SELECT {', '.join(_COLUMNS)} FROM accounts_user WHERE id = %s AND is_active"  # noqa: S608
)


def password_of(e164: str) -> str | None:
    """The stored password (hash or unusable marker) of a number's account; None when
    there is no account."""
    with cursor() as sql_cursor:
        sql_cursor.execute(PASSWORD_BY_NUMBER, [e164])
        row = sql_cursor.fetchone()
    return None if row is None else row[0]


def active_user(user_id: int) -> User | None:
    """The active account with this id, as a model instance."""
    with cursor() as sql_cursor:
        sql_cursor.execute(ACTIVE_BY_ID, [user_id])
        row = sql_cursor.fetchone()
    return None if row is None else user_from_row(row)


def user_from_row(row, phone_number: PhoneNumber | None = None) -> User:
    """A model instance from the account's columns, in the model's field order (as
    `ACTIVE_BY_ID` and the code login's statements return them). `phone_number`, when
    the caller has it parsed already, is used as is rather than parsed again."""
    values = list(row)
    for index, expression, converters in _converters(connection.vendor):
        if index == _PHONE and phone_number is not None:
            values[index] = phone_number
            continue
        for converter in converters:
            values[index] = converter(values[index], expression, connection)
    return User.from_db(connection.alias, _ATTRIBUTES, values)


@functools.cache
def _converters(vendor: str) -> list[tuple[int, Col, list]]:
    """What the ORM would apply to each column read (SQLite: datetimes come as text,
    booleans as integers)."""
    found = []
    for index, field in enumerate(User._meta.concrete_fields):
        expression = field.get_col(User._meta.db_table)
        converters = connection.ops.get_db_converters(expression)
        converters += expression.get_db_converters(connection)
        if converters:
            found.append((index, expression, converters))
    return found
