"""SMS.ir, Ghasedak, Melipayamak, IPPanel and a provider configured by its options alone,
each against a local server that checks the request shape its documentation gives and
plays its documented answers. Each runs as the first provider of a route whose second
is `locmem`: an error that should fail over puts the same code in the outbox; one about
the number ends the send."""

from __future__ import annotations

import json
import logging

import pytest

from accounts.codes import sms
from tests.fake_api import FakeApi
from tests.helpers import PHONE

NATIONAL, E164 = "09112223344", "+989112223344"


class Provider(FakeApi):
    def __init__(self) -> None:
        self.answers: list[tuple] = []
        self.requests: list[dict] = []
        super().__init__(self.answer)

    def answer(self, path, form, headers):
        self.requests.append({"path": path, "body": form, "headers": headers})
        return self.answers[0]


@pytest.fixture
def fake():
    provider = Provider()
    yield provider
    provider.close()


def options(name: str, url: str) -> dict:
    return {
        "smsir": {"backend": "smsir", "api_key": "${TEST_PROVIDER_KEY}", "template_id": "123456"},
        "ghasedak": {"backend": "ghasedak", "api_key": "${TEST_PROVIDER_KEY}", "template": "otp"},
        "melipayamak": {
            "backend": "melipayamak",
            "username": "user",
            "password": "${TEST_PROVIDER_KEY}",
            "body_id": 7777,
        },
        "ippanel": {
            "backend": "ippanel",
            "api_key": "${TEST_PROVIDER_KEY}",
            "pattern_code": "abc123",
            "sender": "+983000505",
        },
        "http": {
            "backend": "http",
            "url": url + "/send/{to_digits}",
            "headers": {"Authorization": "Bearer ${TEST_PROVIDER_KEY}"},
            "body": {"to": "{national}", "otp": "{code}", "message": "{text}"},
            "success_field": "result",
            "success_value": "queued",
            "error_field": "error.code",
            "errors": {"NO_FUNDS": "insufficient credit", "BAD_NUMBER": "invalid number"},
            "final_errors": ["BAD_NUMBER"],
        },
    }[name] | {"base_url": url}


@pytest.fixture
def route(settings, monkeypatch, fake):
    """`route(name)`: the provider `name` on the fake, then locmem."""
    monkeypatch.setenv("TEST_PROVIDER_KEY", "secret-key")
    settings.SMS_RETRIES = 0
    settings.SMS_READ_TIMEOUT = settings.SMS_CONNECT_TIMEOUT = 1.0

    def use(name: str) -> None:
        settings.SMS_PROVIDERS = json.dumps(
            {name: options(name, fake.url), "backup": {"backend": "locmem"}}
        )

    return use


def send(api):
    return api.get(f"/accounts/api/otp/{PHONE}/")


def code_sent(name: str, request: dict) -> str:
    body = request["body"]
    return {
        "smsir": lambda: body["parameters"][0]["value"],
        "ghasedak": lambda: body["param1"],
        "melipayamak": lambda: body["text"],
        "ippanel": lambda: body["variable"]["code"],
        "http": lambda: body["otp"],
    }[name]()


OK = {
    "smsir": (200, {"status": 1, "message": "موفق", "data": {"messageId": 8927, "cost": 1.0}}),
    "ghasedak": (200, {"result": {"code": 200, "message": "success"}, "items": [2513]}),
    "melipayamak": (200, {"Value": "5082938271652", "RetStatus": 1, "StrRetStatus": "Ok"}),
    "ippanel": (200, {"status": "OK", "code": 200, "data": {"message_id": 99}}),
    "http": (200, {"result": "queued", "id": "m-1"}),
}


def test_smsir_request(api, route, fake):
    route("smsir")
    fake.answers = [OK["smsir"]]
    assert send(api).status_code == 200
    [request] = fake.requests
    assert request["path"] == "/v1/send/verify"
    assert request["headers"]["X-API-KEY"] == "secret-key"
    assert request["body"]["mobile"] == NATIONAL
    assert request["body"]["templateId"] == 123456
    assert request["body"]["parameters"][0]["name"] == "CODE"
    assert api.login(PHONE, code_sent("smsir", request))["created"] is True


def test_ghasedak_request(api, route, fake):
    route("ghasedak")
    fake.answers = [OK["ghasedak"]]
    assert send(api).status_code == 200
    [request] = fake.requests
    assert request["path"] == "/v2/verification/send/simple"
    assert request["headers"]["apikey"] == "secret-key"
    assert request["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    body = request["body"]
    assert (body["receptor"], body["type"], body["template"]) == (NATIONAL, "1", "otp")
    assert api.login(PHONE, code_sent("ghasedak", request))["created"] is True


def test_melipayamak_request(api, route, fake):
    route("melipayamak")
    fake.answers = [OK["melipayamak"]]
    assert send(api).status_code == 200
    [request] = fake.requests
    assert request["path"] == "/api/SendSMS/BaseServiceNumber"
    body = request["body"]
    assert (body["username"], body["password"]) == ("user", "secret-key")
    assert (body["to"], body["bodyId"]) == (NATIONAL, "7777")
    assert api.login(PHONE, code_sent("melipayamak", request))["created"] is True


def test_ippanel_request(api, route, fake):
    route("ippanel")
    fake.answers = [OK["ippanel"]]
    assert send(api).status_code == 200
    [request] = fake.requests
    assert request["path"] == "/api/v1/sms/pattern/normal/send"
    assert request["headers"]["apikey"] == "secret-key"
    body = request["body"]
    assert (body["code"], body["sender"], body["recipient"]) == ("abc123", "+983000505", E164)
    assert api.login(PHONE, code_sent("ippanel", request))["created"] is True


def test_configured_http_provider_request(api, route, fake):
    route("http")
    fake.answers = [OK["http"]]
    assert send(api).status_code == 200
    [request] = fake.requests
    assert request["path"] == "/send/989112223344"
    assert request["headers"]["Authorization"] == "Bearer secret-key"
    assert request["body"]["to"] == NATIONAL
    code = code_sent("http", request)
    assert request["body"]["message"].endswith(code)  # {text}: the whole message
    assert api.login(PHONE, code)["created"] is True


# (provider, documented answer, reason logged, final: the number itself was refused)
ERRORS = [
    (
        "smsir",
        (400, {"status": 102, "message": "اعتبار کافی نیست", "data": None}),
        "102 insufficient credit",
        False,
    ),
    (
        "smsir",
        (401, {"status": 10, "message": "کلید نامعتبر", "data": None}),
        "10 invalid API key",
        False,
    ),
    (
        "smsir",
        (400, {"status": 113, "message": "قالب", "data": None}),
        "113 template not found",
        False,
    ),
    (
        "smsir",
        (400, {"status": 104, "message": "موبایل نامعتبر", "data": None}),
        "104 invalid mobile number",
        True,
    ),
    (
        "ghasedak",
        (200, {"result": {"code": 418, "message": "اعتبار"}, "items": None}),
        "418 insufficient credit",
        False,
    ),
    (
        "ghasedak",
        (200, {"result": {"code": 424, "message": "الگو"}, "items": None}),
        "424 template not found",
        False,
    ),
    (
        "ghasedak",
        (200, {"result": {"code": 411, "message": "گیرنده"}, "items": None}),
        "411 invalid recipient",
        True,
    ),
    (
        "melipayamak",
        (200, {"Value": "2", "RetStatus": 0, "StrRetStatus": "Fail"}),
        "2 insufficient credit",
        False,
    ),
    (
        "melipayamak",
        (200, {"Value": "0", "RetStatus": 0, "StrRetStatus": "Fail"}),
        "0 wrong username or password",
        False,
    ),
    (
        "melipayamak",
        (200, {"Value": "35", "RetStatus": 0, "StrRetStatus": "Fail"}),
        "35 recipient on the blacklist",
        True,
    ),
    (
        "ippanel",
        (401, {"status": "ERROR", "code": 401, "error_message": "unauthorized"}),
        "401 invalid API key",
        False,
    ),
    (
        "ippanel",
        (422, {"status": "ERROR", "code": 422, "error_message": {"recipient": ["invalid"]}}),
        "422 invalid parameters",
        False,
    ),
    ("http", (402, {"error": {"code": "NO_FUNDS"}}), "NO_FUNDS insufficient credit", False),
    ("http", (400, {"error": {"code": "BAD_NUMBER"}}), "BAD_NUMBER invalid number", True),
    (
        "http",
        (400, {"error": {"code": "SOMETHING"}, "echo": "kept out"}),
        "HTTP 400 unexpected answer",
        False,
    ),
]


@pytest.mark.parametrize(("name", "answer", "reason", "final"), ERRORS)
def test_documented_errors_fail_over_or_end_the_send(
    api, route, fake, caplog, name, answer, reason, final
):
    caplog.set_level(logging.WARNING)
    route(name)
    fake.answers = [answer]
    response = send(api)
    assert reason in caplog.text
    assert "secret-key" not in caplog.text and "kept out" not in caplog.text
    if final:
        assert response.status_code == 503
        assert response.json()["code"] == "SMS_DELIVERY_FAILED"
        assert sms.outbox == []
    else:  # the backup texted the very code the first provider was given
        assert response.status_code == 200
        [message] = sms.outbox
        assert message.code == code_sent(name, fake.requests[-1])


def test_an_incomplete_provider_fails_the_checks(settings):
    from django.core.checks import run_checks

    settings.SMS_PROVIDERS = json.dumps({"ir": {"backend": "smsir", "api_key": "k"}})
    assert [m.msg for m in run_checks() if m.id == "accounts.E006"] == [
        "SMS_PROVIDERS[ir] needs template_id."
    ]
