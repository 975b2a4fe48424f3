"""Persian and English: answers and SMS texts follow Accept-Language; codes stay ASCII."""

import re

import pytest

from accounts.codes import sms
from tests.conftest import SEND_OTP, last_code
from tests.helpers import PHONE

FA_INVALID = "یک شمارهٔ موبایل معتبر وارد کنید."
EN_INVALID = "Enter a valid mobile number."


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ({"HTTP_ACCEPT_LANGUAGE": "fa"}, FA_INVALID),
        ({"HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.9"}, EN_INVALID),
        ({}, FA_INVALID),
    ],
)
def test_errors_follow_accept_language(api, header, expected):
    rest = api.get("/accounts/api/otp/not-a-number/", **header)
    assert rest.json() == {"detail": expected, "code": "INVALID_PHONE_NUMBER"}
    graphql = api.gql(SEND_OTP, {"phone": "not-a-number"}, **header)
    assert graphql.errors[0]["message"] == expected
    assert graphql.error_codes == ["INVALID_PHONE_NUMBER"]


def test_default_language_is_a_setting(api, settings):
    settings.LANGUAGE_CODE = "en"
    assert api.get("/accounts/api/otp/not-a-number/").json()["detail"] == EN_INVALID


def test_persian_sms_keeps_the_code_in_ascii_digits_on_its_last_line(api):
    api.get(f"/accounts/api/otp/{PHONE}/", HTTP_ACCEPT_LANGUAGE="fa")
    body = sms.outbox[-1].body
    assert "کد ورود" in body
    code = last_code()
    assert body.splitlines()[-1] == code
    assert code.isascii()
    assert api.login(PHONE, code)["created"] is True


def test_english_sms(api):
    api.get(f"/accounts/api/otp/{PHONE}/", HTTP_ACCEPT_LANGUAGE="en")
    body = sms.outbox[-1].body
    assert body.startswith("Accounts login code, valid for 2 minutes.")


@pytest.mark.parametrize("language", ["fa", "en"])
def test_webotp_line_lets_phones_fill_the_code_in(api, settings, language):
    settings.OTP_WEBOTP_DOMAIN = "auth.example.com"
    api.get(f"/accounts/api/otp/{PHONE}/", HTTP_ACCEPT_LANGUAGE=language)
    body = sms.outbox[-1].body
    code = last_code()  # also asserts the code is the only run of six digits
    assert body.splitlines()[-1] == f"@auth.example.com #{code}"
    assert re.fullmatch(r"@[a-z.]+ #\d{6}", body.splitlines()[-1])


def test_a_custom_template_is_used_as_written(api, settings):
    settings.SMS_OTP_TEMPLATE = "{app_name}: {code}"
    api.get(f"/accounts/api/otp/{PHONE}/", HTTP_ACCEPT_LANGUAGE="fa")
    assert sms.outbox[-1].body == f"Accounts: {last_code()}"


def test_password_rules_speak_persian(api):
    tokens = api.sign_up(PHONE)
    result = api.gql(
        'mutation { setPassword(password: "123") { success } }',
        token=tokens["access"],
        HTTP_ACCEPT_LANGUAGE="fa",
    )
    assert result.error_codes == ["INVALID_PASSWORD"]
    assert "این رمز عبور بسیار رایج است." in result.errors[0]["extensions"]["messages"]
