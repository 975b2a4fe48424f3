"""Events integrators hook into: what each one carries, that it is sent after the
transaction commits, that a failing receiver fails nothing, and that no code or token
is ever an argument."""

from __future__ import annotations

import logging
from contextlib import contextmanager

import pytest
import time_machine
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Session, User
from accounts.outbound import events
from tests.conftest import last_code
from tests.helpers import PHONE

MASKED = "+98911****344"
SET_PASSWORD = """
mutation($p: String!, $code: String) { setPassword(password: $p, code: $code) { refreshToken } }
"""
PUBLIC = (
    "code_sent",
    "user_signed_up",
    "user_logged_in",
    "login_failed",
    "password_set",
    "session_revoked",
    "refresh_token_reused",
)


@contextmanager
def recording(*names):
    heard: list[tuple[str, dict]] = []
    receivers = []
    for name in names:

        def receiver(sender, _name=name, **kwargs):
            kwargs.pop("signal")
            heard.append((_name, {**kwargs, "in_transaction": connection.in_atomic_block}))

        getattr(events, name).connect(receiver)
        receivers.append((getattr(events, name), receiver))
    try:
        yield heard
    finally:
        for signal, receiver in receivers:
            signal.disconnect(receiver)


# Real commits: events wait for them.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def heard():
    with recording(*PUBLIC) as heard:
        yield heard


def names(heard):
    return [name for name, _ in heard]


def test_a_sign_up_is_announced(api, heard):
    tokens = api.sign_up(PHONE)
    user = User.objects.get()
    assert names(heard) == ["code_sent", "user_signed_up", "user_logged_in"]
    sent, signed_up, logged_in = (kwargs for _, kwargs in heard)
    assert sent == {
        "phone_number": MASKED,
        "backend": "locmem",
        "test_number": False,
        "in_transaction": False,
    }
    assert signed_up == {
        "user": user,
        "phone_number": MASKED,
        "method": "code",
        "in_transaction": False,
    }
    assert logged_in["user"] == user and logged_in["method"] == "code"
    assert logged_in["phone_number"] == MASKED
    assert logged_in["session_id"] == str(user.sessions.get().pk)
    arguments = repr(heard)
    assert last_code() not in arguments
    assert tokens["refresh"] not in arguments and tokens["access"] not in arguments


def test_failed_logins_say_why(api, heard, settings):
    api.post("/accounts/api/token/", {"phone_number": PHONE, "password": "123456"})
    api.post("/accounts/api/token/", {"phone_number": PHONE, "password": "a passphrase"})
    api.post("/accounts/api/token/", {"phone_number": "not-a-number", "password": "x"})
    assert heard == [
        (
            "login_failed",
            {
                "phone_number": MASKED,
                "method": "code",
                "reason": "INVALID_CREDENTIALS",
                "in_transaction": False,
            },
        ),
        (
            "login_failed",
            {
                "phone_number": MASKED,
                "method": "password",
                "reason": "INVALID_CREDENTIALS",
                "in_transaction": False,
            },
        ),
        (
            "login_failed",
            {
                "phone_number": "-",
                "method": "password",
                "reason": "INVALID_PHONE_NUMBER",
                "in_transaction": False,
            },
        ),
    ]


def test_password_set_and_sessions_ended_are_announced(api, heard):
    api.sign_up(PHONE)  # another device's session
    other_device = str(Session.objects.get().pk)
    tokens = api.login(PHONE, api.new_code(PHONE))
    code = api.new_code(PHONE)
    heard.clear()
    variables = {"p": "a brand new passphrase", "code": code}
    api.gql(SET_PASSWORD, variables, token=tokens["access"])
    user = User.objects.get()
    assert names(heard) == ["password_set", "session_revoked"]
    assert heard[0][1] == {"user": user, "changed": False, "in_transaction": False}
    other_session = heard[1][1]
    assert other_session["reason"] == "password_changed"
    assert other_session["user_id"] == user.pk
    assert other_session["session_id"] == other_device


def test_reuse_is_announced_with_the_session_it_ended(api, heard):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        tokens = api.sign_up(PHONE)
        api.post("/accounts/api/token/refresh/", {"refresh": tokens["refresh"]})
        clock.shift(settings.JWT_REFRESH_TOKEN_REUSE_GRACE + 1)
        heard.clear()
        api.post("/accounts/api/token/refresh/", {"refresh": tokens["refresh"]})
    session_id = str(User.objects.get().sessions.get().pk)
    assert names(heard) == ["session_revoked", "refresh_token_reused"]
    assert heard[0][1]["reason"] == "reuse_detected"
    assert heard[1][1] == {
        "user_id": User.objects.get().pk,
        "session_id": session_id,
        "in_transaction": False,
    }


def test_a_failing_receiver_is_logged_and_fails_nothing(
    api, caplog, django_capture_on_commit_callbacks
):
    def broken(sender, **kwargs):
        raise RuntimeError("the webhook is down")

    events.user_signed_up.connect(broken)
    try:
        with recording("user_logged_in") as heard:
            tokens = api.sign_up(PHONE)
    finally:
        events.user_signed_up.disconnect(broken)
    assert tokens["access"]
    assert names(heard) == ["user_logged_in"]  # the other receivers still ran
    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(failures) == 1 and "broken" in failures[0].getMessage()
    assert failures[0].exc_info[0] is RuntimeError


def test_events_wait_for_the_commit_and_die_with_a_rollback():
    user = User.objects.create_user(PHONE)
    with recording("password_set") as heard:
        with pytest.raises(RuntimeError), transaction.atomic():
            events.announce(events.password_set, user=user, changed=False)
            raise RuntimeError("rolled back")
        assert heard == []
        with transaction.atomic():
            events.announce(events.password_set, user=user, changed=True)
            assert heard == []
        assert heard == [("password_set", {"user": user, "changed": True, "in_transaction": False})]
