"""The real Kavenegar and Twilio backends against local fakes of their HTTP APIs: only the
host differs from production."""

from __future__ import annotations

import base64
import logging
import time

import pytest

from tests.fake_api import FakeApi
from tests.helpers import PHONE
from tests.servers import free_port

KAVENEGAR_OK = (
    200,
    {"return": {"status": 200, "message": "تایید شد"}, "entries": [{"messageid": 1}]},
)
KAVENEGAR_BAD_NUMBER = (
    411,
    {"return": {"status": 411, "message": "receptor نامعتبر"}, "entries": None},
)

TWILIO_OK = (201, {"sid": "SM0123456789abcdef0123456789abcdef", "status": "queued"})
TWILIO_BAD_NUMBER = (
    400,
    {"code": 21211, "message": "The 'To' number +989112223344 is not valid.", "status": 400},
)

SERVER_ERROR = (500, {"message": "internal error"})


class FakeProvider(FakeApi):
    """A provider that answers from a script and records requests."""

    def __init__(self) -> None:
        self.script: list[tuple[int, dict]] = []
        self.delay = 0.0
        self.requests: list[dict] = []
        super().__init__(self.answer)

    def answer(self, path: str, form: dict, headers: dict) -> tuple[int, dict]:
        self.requests.append({"path": path, "form": form, "auth": headers.get("Authorization")})
        time.sleep(self.delay)
        return self.script.pop(0) if len(self.script) > 1 else self.script[0]


@pytest.fixture
def fake():
    provider = FakeProvider()
    yield provider
    provider.close()


@pytest.fixture(params=["kavenegar", "twilio"])
def provider(request, settings, fake):
    settings.SMS_BACKEND = request.param
    settings.SMS_READ_TIMEOUT = 0.5
    settings.SMS_CONNECT_TIMEOUT = 0.5
    settings.SMS_RETRIES = 2
    settings.KAVENEGAR_API_KEY = "test-api-key"
    settings.KAVENEGAR_TEMPLATE = "login"
    settings.KAVENEGAR_BASE_URL = fake.url
    settings.TWILIO_ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
    settings.TWILIO_AUTH_TOKEN = "test-auth-token"
    settings.TWILIO_FROM = "+15005550006"
    settings.TWILIO_BASE_URL = fake.url
    return request.param


OK = {"kavenegar": KAVENEGAR_OK, "twilio": TWILIO_OK}
BAD_NUMBER = {"kavenegar": KAVENEGAR_BAD_NUMBER, "twilio": TWILIO_BAD_NUMBER}
BAD_NUMBER_REASON = {"kavenegar": "411 invalid recipient", "twilio": "21211 invalid 'To' number"}


def send(api):
    return api.get(f"/accounts/api/otp/{PHONE}/")


def test_success_sends_the_right_request(api, provider, fake):
    fake.script = [OK[provider]]
    assert send(api).status_code == 200
    [request] = fake.requests
    if provider == "kavenegar":
        assert request["path"] == "/v1/test-api-key/verify/lookup.json"
        assert request["form"]["receptor"] == PHONE
        assert request["form"]["template"] == "login"
        code = request["form"]["token"]
    else:
        assert (
            request["path"]
            == "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json"
        )
        assert request["form"]["To"] == "+989112223344"
        assert request["form"]["From"] == "+15005550006"
        user, _, token = base64.b64decode(request["auth"].split()[1]).decode().partition(":")
        assert (user, token) == ("AC0123456789abcdef0123456789abcdef", "test-auth-token")
        code = request["form"]["Body"].splitlines()[-1]
    assert api.login(PHONE, code)["created"] is True


def test_messages_share_one_kept_alive_connection(api, provider, fake):
    """Each process keeps one client per provider: five codes to five numbers travel over
    one TCP connection, with no connection or TLS set-up per message."""
    fake.script = [OK[provider]]
    for last in range(5):
        assert api.get(f"/accounts/api/otp/0912555000{last}/").status_code == 200
    assert len(fake.requests) == 5
    assert fake.connections == 1


def test_a_refused_number_is_final_logged_and_not_charged(api, provider, fake, caplog):
    caplog.set_level(logging.WARNING, logger="accounts")
    fake.script = [BAD_NUMBER[provider], OK[provider]]
    response = send(api)
    assert response.status_code == 503
    assert response.json()["code"] == "SMS_DELIVERY_FAILED"
    assert len(fake.requests) == 1  # a 4xx is not retried
    assert BAD_NUMBER_REASON[provider] in caplog.text
    assert "+989112223344" not in caplog.text
    assert send(api).status_code == 200  # no cooldown was charged


def code_in(provider, request) -> str:
    if provider == "kavenegar":
        return request["form"]["token"]
    return request["form"]["Body"].splitlines()[-1]


def test_a_server_error_may_have_texted_the_code_so_it_stays_live(api, provider, fake, caplog):
    """A 5xx may come after the provider texted: the same code is not sent again to the
    same provider, and it stays live, so the text that did arrive logs in."""
    fake.script = [SERVER_ERROR, OK[provider]]
    assert send(api).status_code == 200
    [request] = fake.requests
    assert "may not have been texted" in caplog.text
    assert api.login(PHONE, code_in(provider, request))["created"] is True


def test_a_slow_provider_is_cut_off_by_the_read_timeout(api, provider, fake):
    """A timed-out request is not repeated (it may have been texted); the code stays."""
    fake.script = [OK[provider]]
    fake.delay = 1.0
    started = time.monotonic()
    response = send(api)
    assert response.status_code == 200
    assert time.monotonic() - started < 0.5 + 2
    [request] = fake.requests
    assert api.login(PHONE, code_in(provider, request))["created"] is True


def test_connection_refused(api, provider, settings, caplog):
    closed = f"http://127.0.0.1:{free_port()}"
    settings.KAVENEGAR_BASE_URL = settings.TWILIO_BASE_URL = closed
    response = send(api)
    assert response.status_code == 503
    assert "ConnectError after 3 attempt(s)" in caplog.text


def test_missing_credentials_fail_the_checks(settings):
    from django.core.checks import run_checks

    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_AUTH_TOKEN = ""
    assert "accounts.E006" in {message.id for message in run_checks()}
