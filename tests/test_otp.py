"""One-time codes: random, hashed, short-lived, single-use, attempt-capped, cooled down."""

import datetime as dt
import re
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from accounts.codes import sms
from accounts.codes.sms.backends.base import BaseSMSBackend
from accounts.models import OTPChallenge
from tests.conftest import SEND_OTP, TOKEN_AUTH, last_code
from tests.helpers import E164, PHONE


def login_status(api, password, phone=PHONE):
    return api.post("/accounts/api/token/", {"phone_number": phone, "password": password})


def test_message_holds_the_code_once_in_ascii_digits(api):
    api.get(f"/accounts/api/otp/{PHONE}/")
    message = sms.outbox[-1]
    assert message.to == E164
    code = last_code()
    assert re.fullmatch(r"[0-9]{6}", code)
    assert message.body.count(code) == 1


def test_codes_are_stored_only_as_keyed_hashes(api):
    code = api.send_code(PHONE)
    challenge = OTPChallenge.objects.get()
    assert code not in challenge.code_hash
    assert len(challenge.code_hash) == 64
    for row in OTPChallenge.objects.values_list():
        assert all(code not in str(value) for value in row)


def test_code_is_not_in_any_response_or_log(api, caplog):
    caplog.set_level("DEBUG")
    rest = api.get(f"/accounts/api/otp/{PHONE}/")
    code = last_code()
    assert code not in rest.content.decode()
    tokens = api.login(PHONE, code)
    assert code not in str(tokens)
    assert code not in caplog.text
    assert PHONE not in caplog.text and E164 not in caplog.text


def test_cooldown_blocks_a_second_send_with_429_and_retry_after(api):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        api.send_code(PHONE)
        clock.shift(20)
        response = api.get(f"/accounts/api/otp/{PHONE}/")
        assert response.status_code == 429
        assert response["Retry-After"] == "40"
        assert response.json()["code"] == "RATE_LIMITED"
        assert response.json()["retry_after"] == 40
        result = api.gql(SEND_OTP, {"phone": PHONE})
        assert result.error_codes == ["RATE_LIMITED"]
        assert result.errors[0]["extensions"]["retryAfter"] == 40
        assert len(sms.outbox) == 1
        clock.shift(40)
        api.send_code(PHONE)
        assert len(sms.outbox) == 2


def test_code_expires_after_ttl(api):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        code = api.send_code(PHONE)
        clock.shift(121)
        response = login_status(api, code)
        assert response.status_code == 401
        assert response.json()["code"] == "INVALID_CREDENTIALS"


def test_code_is_good_until_just_before_ttl(api):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        code = api.send_code(PHONE)
        clock.shift(119)
        assert api.login(PHONE, code)["access"]


def test_code_is_single_use(api):
    code = api.send_code(PHONE)
    api.login(PHONE, code)
    response = login_status(api, code)
    assert response.status_code == 401
    assert response.json()["code"] == "INVALID_CREDENTIALS"


def test_new_code_kills_the_previous_one(api, settings):
    settings.OTP_RESEND_COOLDOWN = 0
    first = api.send_code(PHONE)
    second = api.send_code(PHONE)
    if first != second:
        assert login_status(api, first).status_code == 401
    assert api.login(PHONE, second)["access"]


def test_attempt_cap_kills_the_code(api):
    code = api.send_code(PHONE)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        assert login_status(api, wrong).status_code == 401
    assert OTPChallenge.objects.get().attempts == 5
    # The right code no longer works either.
    assert login_status(api, code).status_code == 401
    assert OTPChallenge.objects.get().attempts == 5


def test_attempts_are_counted_through_graphql_too(api):
    code = api.send_code(PHONE)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(4):
        result = api.gql(TOKEN_AUTH, {"phone": PHONE, "password": wrong})
        assert result.error_codes == ["INVALID_CREDENTIALS"]
    assert OTPChallenge.objects.get().attempts == 4
    result = api.gql(TOKEN_AUTH, {"phone": PHONE, "password": code})
    assert result.data["tokenAuth"]["created"] is True


def test_persian_digits_in_the_code_are_accepted(api):
    code = api.send_code(PHONE)
    persian = code.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    assert api.login(PHONE, persian)["created"] is True


def test_code_is_bound_to_its_number(api):
    code = api.send_code(PHONE)
    assert login_status(api, code, phone="09120000000").status_code == 401


class ExplodingBackend(BaseSMSBackend):
    """A provider that is down."""

    def send(self, message):
        raise ConnectionError(f"provider down while sending {message.body}")


def test_failed_delivery_is_503_and_leaves_nothing_that_blocks_a_retry(api, settings, caplog):
    settings.SMS_BACKEND = "tests.test_otp.ExplodingBackend"
    response = api.get(f"/accounts/api/otp/{PHONE}/")
    assert response.status_code == 503
    assert response.json()["code"] == "SMS_DELIVERY_FAILED"
    withdrawn = OTPChallenge.objects.get()
    assert (withdrawn.code_hash, withdrawn.recent_sends) == ("", [])
    assert "provider down" not in caplog.text
    result = api.gql(SEND_OTP, {"phone": PHONE})
    assert result.error_codes == ["SMS_DELIVERY_FAILED"]

    settings.SMS_BACKEND = "locmem"
    code = api.send_code(PHONE)  # no cooldown was charged
    assert api.login(PHONE, code)["created"] is True


def test_file_backend_writes_one_file_per_message(api, settings, tmp_path):
    settings.SMS_BACKEND = "file"
    settings.SMS_FILE_PATH = str(tmp_path / "sms")
    api.get(f"/accounts/api/otp/{PHONE}/")
    api.get("/accounts/api/otp/09350001122/")
    files = sorted(Path(settings.SMS_FILE_PATH).glob("*.txt"))
    assert len(files) == 2
    texts = [f.read_text(encoding="utf-8") for f in files]
    assert any(t.startswith("To: +989112223344\n") for t in texts)
    assert any(t.startswith("To: +989350001122\n") for t in texts)
    code = re.search(r"(?<!\d)\d{6}(?!\d)", texts[0].split("\n", 2)[2]).group()
    phone = texts[0].split()[1]
    assert api.login(phone, code)["access"]


def test_console_backend_prints_the_message(api, settings, capsys):
    settings.SMS_BACKEND = "console"
    api.get(f"/accounts/api/otp/{PHONE}/")
    out = capsys.readouterr().out
    assert E164 in out
    assert re.search(r"(?<!\d)\d{6}(?!\d)", out)


def test_codes_are_random(api, settings):
    settings.OTP_RESEND_COOLDOWN = 0
    settings.OTP_MAX_SENDS_PER_HOUR = settings.OTP_MAX_SENDS_PER_HOUR_HARD = 100
    settings.OTP_SENDS_PER_IP_PER_HOUR = 100
    codes = {api.send_code(PHONE) for _ in range(30)}
    assert len(codes) > 25


def test_purge_removes_only_old_dead_challenges(api, settings):
    settings.OTP_RETENTION = 3600
    with time_machine.travel(timezone.now(), tick=False) as clock:
        api.send_code(PHONE)
        clock.shift(dt.timedelta(minutes=30))
        api.send_code("09350001122")
        clock.shift(dt.timedelta(minutes=45))
        assert OTPChallenge.objects.count() == 2
        call_command("purge_expired")
        remaining = list(OTPChallenge.objects.values_list("phone_number", flat=True))
        assert [str(p) for p in remaining] == ["+989350001122"]


def test_sending_codes_prunes_old_rows(api, settings):
    from accounts.codes.otp import PRUNE_EVERY

    settings.OTP_RETENTION = 3600
    settings.OTP_SENDS_PER_IP_PER_HOUR = PRUNE_EVERY + 1
    with time_machine.travel(timezone.now(), tick=False) as clock:
        api.send_code(PHONE)
        clock.shift(dt.timedelta(hours=2))
        # One send in every PRUNE_EVERY of a process deletes dead rows.
        for n in range(PRUNE_EVERY):
            api.send_code(f"0935{n:07d}")
        assert OTPChallenge.objects.filter(phone_number=E164).count() == 0
        assert OTPChallenge.objects.count() == PRUNE_EVERY


@pytest.mark.parametrize("length", [4, 8])
def test_code_length_is_a_setting(api, settings, length):
    settings.OTP_LENGTH = length
    code = api.send_code(PHONE)
    assert len(code) == length
    assert api.login(PHONE, code)["access"]


def test_seed_load_data_creates_users_and_expired_codes(db):
    from io import StringIO

    from accounts.models import User

    call_command("seed_load_data", users=30, expired_codes=20, stdout=StringIO())
    call_command("seed_load_data", users=30, expired_codes=20, stdout=StringIO())  # idempotent
    assert User.objects.count() == 30
    assert not User.objects.first().has_usable_password()
    assert OTPChallenge.objects.filter(expires_at__lt=timezone.now()).count() == 20
