"""The hot paths' raw SQL gives the same answers whichever way it is run: prepared on
the server (PostgreSQL's default) or through Django's own cursor, as behind a pooler
that keeps no prepared statements (DATABASE_PREPARED_STATEMENTS=0) and on SQLite."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.helpers import PHONE

ME = "{ me { phoneNumber hasPassword } }"


@pytest.fixture(params=["prepared", "django cursor"])
def way(request, monkeypatch):
    if request.param == "prepared" and not getattr(connection, "prepared_statements", False):
        pytest.skip("prepared statements are PostgreSQL's, and on by default there")
    if request.param == "django cursor":
        monkeypatch.setattr(connection, "prepared_statements", False, raising=False)
    return request.param


def test_every_hot_path_answers_alike(api, way):
    assert api.get(f"/accounts/api/status/{PHONE}/").status_code == 404
    code = api.send_code(PHONE)
    wrong = "000000" if code != "000000" else "111111"
    refused = api.post("/accounts/api/token/", {"phone_number": PHONE, "password": wrong})
    assert refused.status_code == 401 and refused.json()["code"] == "INVALID_CREDENTIALS"
    tokens = api.login(PHONE, code)
    assert tokens["created"] is True
    assert api.get(f"/accounts/api/status/{PHONE}/").json() == {"password": False}
    assert api.gql(ME, token=tokens["access"]).data["me"] == {
        "phoneNumber": "+989112223344",
        "hasPassword": False,
    }
    rotated = api.post("/accounts/api/token/refresh/", {"refresh": tokens["refresh"]})
    assert rotated.status_code == 200
    again = api.login(PHONE, api.new_code(PHONE))
    assert again["created"] is False
    # The cooldown, checked inside the send's upsert.
    refused = api.get(f"/accounts/api/otp/{PHONE}/")
    assert refused.status_code == 429 and refused.json()["code"] == "RATE_LIMITED"


def test_the_raw_sql_names_every_column_of_the_models():
    """A field added to a model is either in the hand-written INSERTs and RETURNINGs or
    refused at import: these statements list each column the model has, and no other."""
    from accounts.models import OTPChallenge, Session, User
    from accounts.sql import columns, insert_columns
    from accounts.sql import otp_challenge as otp_sql
    from accounts.sql import session as session_sql

    for model, statement in (
        (User, otp_sql.ADD_ACCOUNT),
        (Session, otp_sql.OPEN_SESSION),
        (OTPChallenge, otp_sql.RESERVE["sqlite"]),
    ):
        listed = statement.split("(", 1)[1].split(")", 1)[0]
        assert sorted(c.strip() for c in listed.split(",")) == sorted(
            column for column in columns(model) if column != "id" or model is Session
        )
    assert ", ".join(columns(User)) in otp_sql.TOUCH_ACCOUNT
    assert f"UPDATE {Session._meta.db_table}\n" in session_sql.ROTATE
    assert f"FROM {User._meta.db_table} WHERE" in session_sql.ROTATE
    with pytest.raises(LookupError, match="missing"):
        insert_columns(User, {"phone_number": "%s"})
