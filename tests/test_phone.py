"""Every written form of a number names one account; nothing else gets through."""

import pytest

from accounts.codes import sms
from accounts.errors import InvalidPhoneNumber
from accounts.identity.phone import is_sms_eligible, mask_phone, normalize_phone
from tests.conftest import SEND_OTP

SAME_NUMBER = [
    "09112223344",
    "+989112223344",
    "00989112223344",
    "989112223344",
    "9112223344",
    "0911 222 3344",
    "0911-222-3344",
    "+98 (911) 222-33-44",
    "۰۹۱۱۲۲۲۳۳۴۴",  # Persian digits
    "٠٩١١٢٢٢٣٣٤٤",  # Arabic-Indic digits
    "+۹۸۹۱۱۲۲۲۳۳۴۴",
    " 09112223344 ",
]

NOT_A_NUMBER = [
    "",
    "abc",
    "0911222334a",
    "0911",  # too short
    "091122233445566778899",  # too long
    "x" * 10_000,
    "0911\x002223344",
    "0911\n2223344",
    "+",
    "++989112223344",
    "09112223344; DROP TABLE users",
]


@pytest.mark.parametrize("raw", SAME_NUMBER)
def test_every_form_normalises_to_one_e164(raw, settings):
    assert normalize_phone(raw).as_e164 == "+989112223344"


@pytest.mark.parametrize("raw", NOT_A_NUMBER)
def test_junk_is_invalid(raw):
    with pytest.raises(InvalidPhoneNumber):
        normalize_phone(raw)


@pytest.mark.parametrize("raw", [None, 9112223344, ["09112223344"], {"a": 1}])
def test_non_strings_are_invalid(raw):
    with pytest.raises(InvalidPhoneNumber):
        normalize_phone(raw)


def test_only_mobiles_in_allowed_regions_can_receive_codes(settings):
    assert is_sms_eligible(normalize_phone("09112223344"))
    assert not is_sms_eligible(normalize_phone("02188776655"))  # Tehran landline
    assert not is_sms_eligible(normalize_phone("+447400123456"))  # UK mobile
    settings.OTP_ALLOWED_REGIONS = ["IR", "GB"]
    assert is_sms_eligible(normalize_phone("+447400123456"))


def test_mask_keeps_only_the_ends():
    assert mask_phone(normalize_phone("09123456344")) == "+98912****344"


def test_all_forms_reach_one_account(api):
    tokens = api.sign_up("09112223344")
    for raw in SAME_NUMBER:
        response = api.get(f"/accounts/api/status/{raw.strip()}/")
        assert response.status_code == 200, raw
        assert response.json() == {"password": False}
    assert tokens["created"] is True


@pytest.mark.parametrize(
    "raw",
    ["abc", "0911", "02188776655", "+447400123456", "x" * 10_000, "0911%002223344", "%20"],
)
def test_send_code_to_bad_number_is_400_and_sends_nothing(api, raw):
    response = api.get(f"/accounts/api/otp/{raw}/")
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_PHONE_NUMBER"
    result = api.gql(SEND_OTP, {"phone": raw.replace("%00", "\x00").replace("%20", " ")})
    assert result.error_codes == ["INVALID_PHONE_NUMBER"]
    assert sms.outbox == []


@pytest.mark.parametrize("raw", ["", "abc", "\x00\x01", "۰۹۱۱"])
def test_status_of_bad_number_is_invalid_phone_number(api, raw):
    result = api.gql("query($p: String!) { userStatus(phoneNumber: $p) { exists } }", {"p": raw})
    assert result.status == 200
    assert result.error_codes == ["INVALID_PHONE_NUMBER"]
