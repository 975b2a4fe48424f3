"""SMS pumping and lockouts: the budget kept for accounts, per-country budgets, bot checks
(Turnstile, hCaptcha, reCAPTCHA, played by a local provider) asked for when a risk
signal fires, and number ranges whose codes are never verified."""

from __future__ import annotations

import logging

import pytest
import time_machine
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from accounts.codes.sms import outbox
from accounts.models import User
from accounts.outbound import metrics
from tests.fake_bot_check import SECRET, SITE_KEY, FakeBotCheck
from tests.helpers import E164, PHONE

SEND = "mutation($p: String!, $t: String) { sendOtp(phoneNumber: $p, challengeToken: $t) { sent } }"


@pytest.fixture
def provider():
    fake = FakeBotCheck()
    yield fake
    fake.close()


@pytest.fixture
def bot_check(settings, provider):
    settings.BOT_CHECK_BACKEND = "turnstile"
    settings.BOT_CHECK_SECRET = SECRET
    settings.BOT_CHECK_SITE_KEY = SITE_KEY
    settings.BOT_CHECK_VERIFY_URL = provider.url
    return provider


def otp(api, phone=PHONE, ip="198.51.100.1", token=None):
    headers = {"REMOTE_ADDR": ip}
    if token is not None:
        headers["HTTP_X_CHALLENGE_TOKEN"] = token
    return api.get(f"/accounts/api/otp/{phone}/", **headers)


# --- the budget ---------------------------------------------------------------------------


def test_a_flood_to_new_numbers_leaves_the_reserved_share_to_accounts(api, settings):
    settings.SMS_MAX_PER_HOUR = 10
    settings.SMS_RESERVED_FOR_ACCOUNTS = 0.3
    User.objects.create(phone_number=E164)
    flood = [otp(api, f"0935400{n:04d}", ip=f"198.51.100.{n}").status_code for n in range(10)]
    assert flood == [200] * 7 + [429] * 3
    refused = otp(api, "09354009999", ip="198.51.100.99")
    assert refused.json()["code"] == "RATE_LIMITED" and int(refused["Retry-After"]) > 0
    # A returning user still gets a code, and logs in.
    assert otp(api, ip="203.0.113.5").status_code == 200
    assert len(outbox) == 8


def test_sends_to_accounts_leave_new_numbers_their_share(api, settings):
    """The share is a floor for accounts, not a ceiling on everyone: returning users
    (or someone sending to their numbers) do not use up what new numbers may spend."""
    settings.SMS_MAX_PER_HOUR = 10
    owners = [f"0935700{n:04d}" for n in range(6)]
    User.objects.bulk_create([User(phone_number="+98" + phone[1:]) for phone in owners])
    to_accounts = [
        otp(api, phone, ip=f"198.51.100.{n}").status_code for n, phone in enumerate(owners)
    ]
    assert to_accounts == [200] * 6
    to_new = [otp(api, f"0935800{n:04d}", ip=f"203.0.113.{n}").status_code for n in range(5)]
    assert to_new == [200] * 4 + [429]  # the budget is spent: 6 + 4
    assert len(outbox) == 10


def test_a_country_can_have_a_budget_of_its_own(api, settings):
    settings.OTP_ALLOWED_REGIONS = ["IR", "GB"]
    settings.SMS_MAX_PER_HOUR_BY_REGION = {"GB": 1}
    assert otp(api, "+447400123456").status_code == 200
    over = otp(api, "+447400123457", ip="198.51.100.2")
    assert over.status_code == 429 and over.json()["code"] == "RATE_LIMITED"
    assert otp(api, "09354000001", ip="198.51.100.3").status_code == 200  # Iran: no cap of its own


# --- bot checks -----------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["turnstile", "hcaptcha", "recaptcha"])
def test_a_send_that_needs_a_check_names_the_provider_and_passes_with_a_token(
    api, settings, bot_check, backend
):
    settings.BOT_CHECK_BACKEND = backend
    settings.BOT_CHECK_POLICY = "always"
    asked = otp(api)
    assert asked.status_code == 403
    assert asked.json() == {
        "detail": asked.json()["detail"],
        "code": "CHALLENGE_REQUIRED",
        "provider": backend,
        "site_key": SITE_KEY,
    }
    graphql = api.gql(SEND, {"p": PHONE})
    assert graphql.error_codes == ["CHALLENGE_REQUIRED"]
    extensions = graphql.errors[0]["extensions"]
    assert (extensions["provider"], extensions["siteKey"]) == (backend, SITE_KEY)
    assert outbox == [] and bot_check.requests == []  # no token: the provider is not asked

    assert otp(api, token="human-1").status_code == 200
    verified = bot_check.requests[-1]
    assert verified["secret"] == SECRET and verified["response"] == "human-1"
    assert verified["remoteip"] == "198.51.100.1"
    if backend == "hcaptcha":
        assert verified["sitekey"] == SITE_KEY
    assert len(outbox) == 1


def test_a_token_is_good_once_and_a_bots_token_fails(api, settings, bot_check):
    settings.BOT_CHECK_POLICY = "always"
    settings.OTP_RESEND_COOLDOWN = 0
    assert api.gql(SEND, {"p": PHONE, "t": "human-once"}).data == {"sendOtp": {"sent": True}}
    again = api.gql(SEND, {"p": PHONE, "t": "human-once"})
    assert again.error_codes == ["CHALLENGE_REQUIRED"]
    assert len(bot_check.requests) == 1  # refused here, before the provider is asked again
    assert otp(api, token="bot-7").json()["code"] == "CHALLENGE_REQUIRED"
    assert otp(api, token="x" * 5000).json()["code"] == "CHALLENGE_REQUIRED"
    assert len(outbox) == 1


def test_a_scored_providers_low_score_fails(api, settings, bot_check):
    settings.BOT_CHECK_BACKEND = "recaptcha"
    settings.BOT_CHECK_POLICY = "always"
    bot_check.score = 0.1
    assert otp(api, token="human-low").json()["code"] == "CHALLENGE_REQUIRED"
    bot_check.score = 0.9
    assert otp(api, token="human-high").status_code == 200


def test_a_provider_that_is_down_fails_closed_and_charges_nothing(api, settings, bot_check):
    settings.BOT_CHECK_POLICY = "always"
    settings.SMS_MAX_PER_HOUR = 1
    settings.SMS_RESERVED_FOR_ACCOUNTS = 0
    bot_check.status = 500
    down = otp(api, token="human-1")
    assert down.status_code == 503 and down.json()["code"] == "SERVICE_UNAVAILABLE"
    bot_check.status = 200
    assert otp(api, "09354000001", token="human-2").status_code == 200  # the budget was kept


def test_with_risk_policy_a_quiet_send_needs_no_check(api, settings, bot_check):
    settings.BOT_CHECK_NETWORK_SENDS = 2
    sends = [otp(api, f"0935400{n:04d}").status_code for n in range(3)]
    assert sends == [200, 200, 403]  # the network's third send in the hour is checked
    assert bot_check.requests == []
    assert otp(api, "09354000009", token="human-1").status_code == 200


def test_nobody_locks_an_owner_out_who_passes_the_check(api, settings, bot_check):
    """Five sends from an attacker use the number's hour; the owner, asked for a check,
    passes it and still gets a code (up to OTP_MAX_SENDS_PER_HOUR_HARD)."""
    settings.BOT_CHECK_NETWORK_SENDS = 100
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for n in range(5):
            assert otp(api, ip=f"198.51.100.{n}").status_code == 200
            clock.shift(61)
        attacker = otp(api, ip="198.51.100.99")
        assert attacker.json()["code"] == "CHALLENGE_REQUIRED"
        owner = otp(api, ip="203.0.113.5")
        assert owner.json()["code"] == "CHALLENGE_REQUIRED"
        assert otp(api, ip="203.0.113.5", token="human-owner").status_code == 200
        code = outbox[-1].body.split()[-1]
        login = api.post("/accounts/api/token/", {"phone_number": PHONE, "password": code})
        assert login.status_code == 200
        # The hard ceiling holds for checked sends too.
        for n in range(4):
            clock.shift(61)
            assert otp(api, ip="203.0.113.5", token=f"human-{n}").status_code == 200
        clock.shift(61)
        ceiling = otp(api, ip="203.0.113.5", token="human-last")
        assert ceiling.status_code == 429
    assert len(outbox) == 10


# --- number ranges ---------------------------------------------------------------------------


@pytest.fixture
def ranges_on(settings):
    settings.OTP_RANGE_MIN_SENDS = 5
    settings.OTP_RANGE_MIN_VERIFIED = 0.5


def _range_trips() -> float:
    body = metrics.exposition()[0].decode()
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.labels.get("limit") == "range-conversion" and sample.name.endswith("_total"):
                return sample.value
    return 0.0


def test_a_range_whose_codes_are_never_verified_is_throttled(
    api, ranges_on, caplog, django_capture_on_commit_callbacks
):
    metrics.connect()
    trips_before = _range_trips()
    with django_capture_on_commit_callbacks(execute=True):
        pumped = [otp(api, f"0935500{n:04d}", ip=f"198.51.100.{n}").status_code for n in range(8)]
    assert pumped == [200] * 5 + [429] * 3
    assert _range_trips() - trips_before == 3
    warnings = [r for r in caplog.records if "tripped" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert "+9893550…" in warnings[0].getMessage()
    # Another range is not held back.
    assert otp(api, "09356000001", ip="198.51.100.50").status_code == 200


def test_a_range_whose_codes_are_verified_is_not(api, ranges_on):
    for n in range(8):
        phone = f"0935500{n:04d}"
        assert otp(api, phone, ip=f"198.51.100.{n}").status_code == 200
        if n % 2 == 0:  # half of them type their code back
            api.login(phone, outbox[-1].body.split()[-1])


def test_wrong_codes_do_not_count_as_verified(api, ranges_on):
    for n in range(5):
        phone = f"0935500{n:04d}"
        assert otp(api, phone, ip=f"198.51.100.{n}").status_code == 200
        wrong = api.post("/accounts/api/token/", {"phone_number": phone, "password": "000000"})
        assert wrong.status_code == 401
    assert otp(api, "09355000009", ip="198.51.100.9").status_code == 429


def test_with_a_bot_check_a_tripped_range_asks_for_one(api, ranges_on, bot_check):
    for n in range(5):
        assert otp(api, f"0935500{n:04d}", ip=f"198.51.100.{n}").status_code == 200
    asked = otp(api, "09355000009", ip="198.51.100.9")
    assert asked.json()["code"] == "CHALLENGE_REQUIRED"
    assert otp(api, "09355000009", ip="198.51.100.9", token="bot-1").status_code == 403
    assert otp(api, "09355000009", ip="198.51.100.9", token="human-1").status_code == 200
