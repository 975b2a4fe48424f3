"""The hot paths' raw SQL gives the same answers whichever way it is run: prepared on
the server (PostgreSQL's default) or through Django's own cursor, as behind a pooler
that keeps no prepared statements (DATABASE_PREPARED_STATEMENTS=0) and on SQLite."""

from __future__ import annotations

import pytest
from django.db import connection

PHONE = "09112223344"
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
