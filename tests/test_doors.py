"""The same scenarios through both doors, through the middleware chain production
serves: the same rules, and the same codes from the one catalogue."""

import pytest

from accounts.models import User
from tests.doors import sign_up
from tests.helpers import PHONE


def test_a_code_signs_up_then_refresh_verify_and_log_out(door, settings):
    settings.JWT_REFRESH_TOKEN_REUSE_GRACE = 0
    assert door.status(PHONE).data == {"exists": False, "has_password": False}
    tokens = sign_up(door, PHONE)
    assert tokens["created"] is True and User.objects.count() == 1
    assert door.status(PHONE).data == {"exists": True, "has_password": False}
    assert door.verify(tokens["access"]).code is None
    rotated = door.refresh(tokens["refresh"])
    assert rotated.code is None and rotated.data["refresh"] != tokens["refresh"]
    assert door.refresh(tokens["refresh"]).code == "INVALID_TOKEN"  # reuse ends the session
    assert door.log_out(rotated.data["refresh"]).code == "INVALID_TOKEN"
    again = sign_up(door, "09123334455")
    assert door.log_out(again["refresh"]).code is None
    assert door.refresh(again["refresh"]).code == "INVALID_TOKEN"


@pytest.mark.parametrize("password", ["000000", "wrong password", "۱۲۳۴۵۶"])
def test_every_failed_login_is_the_same_code(door, password):
    assert door.log_in(PHONE, password).code == "INVALID_CREDENTIALS"
    sign_up(door, PHONE)
    assert door.log_in(PHONE, password).code == "INVALID_CREDENTIALS"


@pytest.mark.parametrize("number", ["0911", "abc", "+447400123456"])
def test_a_number_that_is_no_mobile_number_is_invalid_phone_number(door, number):
    assert door.send_code(number).code == "INVALID_PHONE_NUMBER"


def test_a_second_send_inside_the_cooldown_is_rate_limited_with_retry_after(door):
    assert door.send_code(PHONE).code is None
    refused = door.send_code(PHONE)
    assert refused.code == "RATE_LIMITED"
    assert 0 < int(refused.headers["Retry-After"]) <= 60


@pytest.mark.parametrize("token", ["", "x" * 5000, "a.b.c"])
def test_a_forged_token_is_invalid_token(door, token):
    assert door.verify(token).code in ("INVALID_TOKEN", "INVALID_INPUT")
    if token:
        assert door.verify(token).code == "INVALID_TOKEN"


@pytest.mark.parametrize("body", [b"{not json", b"\xff", b"[1]", b'{"a": "\\ud800"}'])
def test_a_malformed_body_is_invalid_input(door, body):
    answer = door.raw(body)
    assert (answer.status, answer.code) == (400, "INVALID_INPUT")
    assert answer.headers["Content-Language"] == "fa"  # the production default for IR
