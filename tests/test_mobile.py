"""Mobile apps: test numbers for store review and end-to-end suites, and SMS texts that
Android's SMS Retriever and the browser's WebOTP both read."""

import logging

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.utils import timezone

from accounts.codes import sms
from tests.conftest import SEND_OTP, TOKEN_AUTH

TEST_NUMBER = "09120000099"
TEST_E164 = "+989120000099"
TEST_CODE = "424242"
APP_HASH = "FA+9qCX9VSu"


@pytest.fixture
def test_number(settings):
    settings.OTP_TEST_NUMBERS = [f"+98 912 000 0099:{TEST_CODE}"]
    return settings


def test_a_test_number_gets_no_sms_and_logs_in_with_its_code_over_rest(api, test_number, caplog):
    caplog.set_level(logging.WARNING)
    sent = api.get(f"/accounts/api/otp/{TEST_NUMBER}/")
    assert sent.status_code == 200
    assert sms.outbox == []
    tokens = api.login(TEST_NUMBER, TEST_CODE)
    assert tokens["created"] is True
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "Test number: code not texted to +98912****099 ip=127.0.0.1" in warnings
    assert "Test number login for +98912****099" in warnings
    assert TEST_E164 not in caplog.text and TEST_CODE not in caplog.text


def test_a_test_number_over_graphql(api, test_number):
    assert api.gql(SEND_OTP, {"phone": "۰۹۱۲۰۰۰۰۰۹۹"}).data["sendOtp"]["sent"] is True
    result = api.gql(TOKEN_AUTH, {"phone": TEST_NUMBER, "password": TEST_CODE})
    assert result.data["tokenAuth"]["user"]["phoneNumber"] == TEST_E164
    assert sms.outbox == []


def test_the_code_works_only_after_a_send_and_only_once(api, test_number):
    response = api.post(
        "/accounts/api/token/", {"phone_number": TEST_NUMBER, "password": TEST_CODE}
    )
    assert response.status_code == 401
    api.get(f"/accounts/api/otp/{TEST_NUMBER}/")
    assert api.login(TEST_NUMBER, TEST_CODE)["access"]
    again = api.post("/accounts/api/token/", {"phone_number": TEST_NUMBER, "password": TEST_CODE})
    assert again.status_code == 401


def test_a_test_number_cannot_be_brute_forced(api, test_number, settings):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        assert api.get(f"/accounts/api/otp/{TEST_NUMBER}/").status_code == 200
        # The cooldown and the per-number hourly cap hold as for any number.
        assert api.get(f"/accounts/api/otp/{TEST_NUMBER}/").status_code == 429
        for guess in range(settings.OTP_MAX_ATTEMPTS):
            wrong = {"phone_number": TEST_NUMBER, "password": f"{guess:06d}"}
            assert api.post("/accounts/api/token/", wrong).status_code == 401
        right = {"phone_number": TEST_NUMBER, "password": TEST_CODE}
        assert api.post("/accounts/api/token/", right).status_code == 401  # the code is dead
        for _ in range(settings.OTP_MAX_SENDS_PER_HOUR - 1):
            clock.shift(settings.OTP_RESEND_COOLDOWN)
            assert api.get(f"/accounts/api/otp/{TEST_NUMBER}/").status_code == 200
        clock.shift(settings.OTP_RESEND_COOLDOWN)
        assert api.get(f"/accounts/api/otp/{TEST_NUMBER}/").status_code == 429


def test_a_test_number_charges_no_sms_budget(api, test_number, settings):
    settings.SMS_MAX_PER_HOUR = 1
    settings.SMS_RESERVED_FOR_ACCOUNTS = 0
    settings.OTP_RESEND_COOLDOWN = 0
    for _ in range(3):
        assert api.get(f"/accounts/api/otp/{TEST_NUMBER}/").status_code == 200
    assert api.get("/accounts/api/otp/09112223344/").status_code == 200
    assert len(sms.outbox) == 1


@pytest.mark.parametrize(
    "entry",
    ["09120000099", "09120000099:12345", "09120000099:abcdef", "not-a-number:424242", ":"],
)
def test_an_invalid_pair_fails_the_checks(settings, entry):
    settings.OTP_TEST_NUMBERS = [entry]
    with pytest.raises(SystemCheckError, match="OTP_TEST_NUMBERS"):
        call_command("check")


def test_test_numbers_with_debug_off_are_named_in_a_warning(settings):
    from project.checks import check_test_numbers

    settings.OTP_TEST_NUMBERS = [f"{TEST_NUMBER}:{TEST_CODE}"]
    settings.DEBUG = False
    (warning,) = check_test_numbers(None)
    assert warning.id == "accounts.W002" and TEST_E164 in warning.msg
    settings.DEBUG = True
    assert check_test_numbers(None) == []


# --- the SMS text: neither, WebOTP only, hash only, both, in English and Persian -----

EN = "Accounts login code, valid for 2 minutes. Never share it."
FA = "کد ورود به Accounts، معتبر تا 2 دقیقه. آن را به هیچ‌کس ندهید."


@pytest.mark.parametrize(
    ("language", "domain", "app_hash", "expected"),
    [
        ("en", "", "", f"{EN}\n\n{TEST_CODE}"),
        ("fa", "", "", f"{FA}\n\n{TEST_CODE}"),
        ("en", "auth.example.com", "", f"{EN}\n\n@auth.example.com #{TEST_CODE}"),
        ("fa", "auth.example.com", "", f"{FA}\n\n@auth.example.com #{TEST_CODE}"),
        ("en", "", APP_HASH, f"{EN}\n\n{TEST_CODE}\n{APP_HASH}"),
        ("fa", "", APP_HASH, f"{FA}\n\n{TEST_CODE}\n{APP_HASH}"),
        ("en", "auth.example.com", APP_HASH, f"{EN}\n\n{APP_HASH}\n@auth.example.com #{TEST_CODE}"),
        ("fa", "auth.example.com", APP_HASH, f"{FA}\n\n{APP_HASH}\n@auth.example.com #{TEST_CODE}"),
    ],
)
def test_the_exact_sms_texts(api, settings, language, domain, app_hash, expected):
    from django.utils import translation

    from accounts.codes.otp import message_for

    settings.OTP_WEBOTP_DOMAIN = domain
    settings.OTP_ANDROID_APP_HASH = app_hash
    with translation.override(language):
        assert message_for(TEST_CODE) == expected
    api.get("/accounts/api/otp/09112223344/", HTTP_ACCEPT_LANGUAGE=language)
    body = sms.outbox[-1].body
    assert body == expected.replace(TEST_CODE, sms.outbox[-1].code)


@pytest.mark.parametrize("app_hash", ["short", "FA+9qCX9VSu!", "FA-9qCX9VSu", "FA+9qCX9VS"])
def test_a_malformed_app_hash_fails_the_checks(settings, app_hash):
    settings.OTP_ANDROID_APP_HASH = app_hash
    with pytest.raises(SystemCheckError, match="OTP_ANDROID_APP_HASH"):
        call_command("check")


def test_a_custom_template_must_carry_the_hash(settings):
    settings.OTP_ANDROID_APP_HASH = APP_HASH
    settings.SMS_OTP_TEMPLATE = "{app_name}: {code}"
    with pytest.raises(SystemCheckError, match="android_hash"):
        call_command("check")
    settings.SMS_OTP_TEMPLATE = "{app_name}: {code}\n{android_hash}"
    call_command("check")


def test_a_text_over_one_sms_segment_is_warned_about(settings):
    from project.checks import check_android_app_hash

    settings.OTP_ANDROID_APP_HASH = APP_HASH
    settings.OTP_WEBOTP_DOMAIN = "auth.example.com"
    (warning,) = check_android_app_hash(None)
    assert warning.id == "accounts.W003" and "fa: 200 bytes" in warning.msg
    settings.SMS_OTP_TEMPLATE = "کد {app_name}: {code}\n{android_hash}"
    assert check_android_app_hash(None) == []
