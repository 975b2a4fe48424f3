"""Several providers, routed, with failover and a circuit breaker: two local fakes of
real provider APIs (Kavenegar's and Twilio's), with only the host changed."""

from __future__ import annotations

import json
import logging
import time

import pytest

from accounts.codes.courier import Courier
from accounts.models import OTPChallenge
from tests.fake_api import FakeApi
from tests.helpers import PHONE
from tests.servers import free_port

KAVENEGAR_OK = (200, {"return": {"status": 200, "message": "تایید شد"}, "entries": []})
KAVENEGAR_NO_CREDIT = (200, {"return": {"status": 418, "message": "اعتبار کافی نیست"}})
KAVENEGAR_BAD_NUMBER = (200, {"return": {"status": 411, "message": "receptor نامعتبر"}})
TWILIO_OK = (201, {"sid": "SM0123456789abcdef0123456789abcdef", "status": "queued"})
SERVER_ERROR = (500, {"message": "internal error"})


class Fake(FakeApi):
    def __init__(self, ok) -> None:
        self.script = [ok]
        self.requests: list[dict] = []
        super().__init__(self.answer)

    def answer(self, path, form, headers):
        self.requests.append(form)
        return self.script.pop(0) if len(self.script) > 1 else self.script[0]


@pytest.fixture
def first():
    fake = Fake(KAVENEGAR_OK)
    yield fake
    fake.close()


@pytest.fixture
def second():
    fake = Fake(TWILIO_OK)
    yield fake
    fake.close()


def providers_json(first_url: str, second_url: str) -> str:
    return json.dumps(
        {
            "first": {
                "backend": "kavenegar",
                "api_key": "first-key",
                "template": "login",
                "base_url": first_url,
            },
            "second": {
                "backend": "twilio",
                "account_sid": "AC0123456789abcdef0123456789abcdef",
                "auth_token": "${TEST_SECOND_TOKEN}",
                "from": "+15005550006",
                "base_url": second_url,
            },
        }
    )


@pytest.fixture
def routed(settings, monkeypatch, first, second):
    monkeypatch.setenv("TEST_SECOND_TOKEN", "second-token")
    settings.SMS_PROVIDERS = providers_json(first.url, second.url)
    settings.SMS_ROUTES = {}
    settings.SMS_READ_TIMEOUT = 0.5
    settings.SMS_CONNECT_TIMEOUT = 0.5
    settings.SMS_RETRIES = 0
    settings.SMS_BREAKER_FAILURES = 3
    settings.SMS_BREAKER_PAUSE = 1.0
    return settings


def first_code(fake) -> str:
    return fake.requests[-1]["token"]


def second_code(fake) -> str:
    return fake.requests[-1]["Body"].splitlines()[-1]


def send(api, number=PHONE):
    return api.get(f"/accounts/api/otp/{number}/")


@pytest.mark.parametrize("failure", ["server error", "no credit", "unreachable"])
def test_the_second_provider_texts_the_same_code(api, routed, first, second, failure):
    if failure == "unreachable":
        routed.SMS_PROVIDERS = providers_json(f"http://127.0.0.1:{free_port()}", second.url)
    else:
        first.script = [SERVER_ERROR if failure == "server error" else KAVENEGAR_NO_CREDIT]
    assert send(api).status_code == 200
    assert len(second.requests) == 1
    if failure != "unreachable":
        assert first_code(first) == second_code(second)  # one code, whichever arrives
    assert api.login(PHONE, second_code(second))["created"] is True


def test_a_refused_number_is_not_tried_elsewhere(api, routed, first, second):
    first.script = [KAVENEGAR_BAD_NUMBER]
    response = send(api)
    assert response.status_code == 503
    assert response.json()["code"] == "SMS_DELIVERY_FAILED"
    assert second.requests == []


def test_routes_by_prefix_then_region_then_default(api, routed, first, second):
    routed.SMS_ROUTES = {"+98935": "second", "IR": "first|second", "*": "second"}
    assert send(api, "09351234567").status_code == 200
    assert (len(first.requests), len(second.requests)) == (0, 1)
    assert send(api, "09121234567").status_code == 200
    assert (len(first.requests), len(second.requests)) == (1, 1)
    routed.OTP_ALLOWED_REGIONS = ["IR", "GB"]
    assert send(api, "+447400123456").status_code == 200
    assert (len(first.requests), len(second.requests)) == (1, 2)


def test_the_breaker_opens_after_a_run_of_failures_and_a_probe_closes_it(
    api, routed, first, second, caplog
):
    caplog.set_level(logging.INFO, logger="accounts")
    first.script = [SERVER_ERROR]
    for number in ("09120000001", "09120000002", "09120000003"):
        assert send(api, number).status_code == 200
    assert len(first.requests) == 3
    assert caplog.text.count("SMS provider first: circuit opened") == 1
    routed.METRICS_ENABLED = True
    scraped = api.get("/metrics").content.decode()
    assert 'accounts_sms_provider_state{provider="first"} 1.0' in scraped
    assert 'accounts_sms_provider_state{provider="second"} 0.0' in scraped
    # Open: the next sends go straight to the second provider.
    assert send(api, "09120000004").status_code == 200
    assert (len(first.requests), len(second.requests)) == (3, 4)
    time.sleep(1.1)  # SMS_BREAKER_PAUSE
    first.script = [KAVENEGAR_OK]
    assert send(api, "09120000005").status_code == 200  # the probe: taken
    assert (len(first.requests), len(second.requests)) == (4, 4)
    assert "SMS provider first: circuit closed" in caplog.text
    assert send(api, "09120000006").status_code == 200
    assert (len(first.requests), len(second.requests)) == (5, 4)


def test_a_failed_probe_opens_the_breaker_again(api, routed, first, second):
    routed.SMS_BREAKER_FAILURES = 1
    first.script = [SERVER_ERROR]
    assert send(api, "09120000001").status_code == 200
    time.sleep(1.1)
    assert send(api, "09120000002").status_code == 200  # the probe: failed
    assert send(api, "09120000003").status_code == 200  # open again: not asked
    assert (len(first.requests), len(second.requests)) == (2, 3)


def test_a_throttled_provider_is_left_alone_for_its_retry_after(api, routed, first, second):
    first.script = [(429, {"message": "slow down"}, {"Retry-After": "60"}), KAVENEGAR_OK]
    assert send(api, "09120000001").status_code == 200
    assert send(api, "09120000002").status_code == 200
    assert (len(first.requests), len(second.requests)) == (1, 2)


def test_a_send_no_provider_took_is_given_back(api, routed):
    """Nothing texted, nothing charged: no cooldown, no share of the number, no budget."""
    down = f"http://127.0.0.1:{free_port()}"
    routed.SMS_PROVIDERS = providers_json(down, down)
    routed.SMS_BREAKER_FAILURES = 100  # this test is about the budgets
    routed.SMS_RESERVED_FOR_ACCOUNTS = 0
    routed.SMS_MAX_PER_HOUR = 2
    routed.OTP_SENDS_PER_IP_PER_HOUR = 2
    routed.OTP_MAX_SENDS_PER_HOUR = 2
    for _ in range(4):
        response = send(api)
        assert response.status_code == 503
        assert response.json()["code"] == "SMS_DELIVERY_FAILED"
    up = Fake(KAVENEGAR_OK)
    try:
        routed.SMS_PROVIDERS = providers_json(up.url, down)
        assert send(api).status_code == 200
        assert api.login(PHONE, first_code(up))["created"] is True
    finally:
        up.close()


def deliver_queue():
    Courier(concurrency=4).run(batch=True)


def test_in_the_background_a_send_no_provider_took_is_withdrawn_and_given_back(api, routed):
    down = f"http://127.0.0.1:{free_port()}"
    routed.SMS_PROVIDERS = providers_json(down, down)
    routed.SMS_SEND_IN_BACKGROUND = True
    routed.SMS_BREAKER_FAILURES = 100
    routed.SMS_RESERVED_FOR_ACCOUNTS = 0
    routed.SMS_MAX_PER_HOUR = 1
    routed.OTP_SENDS_PER_IP_PER_HOUR = 1
    for _ in range(3):
        assert send(api).status_code == 200  # queued: the answer cannot know yet
        deliver_queue()
        row = OTPChallenge.objects.get()
        assert (row.queued, row.code_hash, row.recent_sends) == (False, "", [])
    up = Fake(KAVENEGAR_OK)
    try:
        routed.SMS_PROVIDERS = providers_json(up.url, down)
        assert send(api).status_code == 200
        deliver_queue()
        assert api.login(PHONE, first_code(up))["created"] is True
    finally:
        up.close()


def test_in_the_background_a_code_that_may_have_gone_stays_live(api, routed, first, second):
    routed.SMS_PROVIDERS = providers_json(first.url, f"http://127.0.0.1:{free_port()}")
    routed.SMS_SEND_IN_BACKGROUND = True
    first.script = [SERVER_ERROR]
    assert send(api).status_code == 200
    deliver_queue()
    assert OTPChallenge.objects.get().queued is False
    assert api.login(PHONE, first_code(first))["created"] is True


def test_bad_provider_settings_fail_the_checks(settings, monkeypatch):
    from django.core.checks import run_checks

    def problems() -> list[str]:
        return [m.msg for m in run_checks() if m.id == "accounts.E006"]

    settings.SMS_PROVIDERS = "{not json"
    assert problems() == [
        "SMS_PROVIDERS is not JSON: Expecting property name enclosed in double quotes"
    ]
    settings.SMS_PROVIDERS = json.dumps(
        {"a": {"backend": "kavenegar", "api_key": "${UNSET_KEY_X}"}}
    )
    monkeypatch.delenv("UNSET_KEY_X", raising=False)
    assert problems() == ["SMS_PROVIDERS[a] names ${UNSET_KEY_X}, which is not set."]
    settings.SMS_PROVIDERS = json.dumps({"a": {"backend": "dummy"}})
    settings.SMS_ROUTES = {"+98": "a|b"}
    assert problems() == [
        "SMS_ROUTES: +98 names no provider, or one SMS_PROVIDERS does not declare (b)."
    ]
