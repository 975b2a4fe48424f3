"""The three scenarios of the README, through both doors, and every login rule."""

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher

from accounts.models import User
from tests.conftest import SEND_OTP, TOKEN_AUTH, last_code
from tests.helpers import E164, PHONE

STATUS = "query($p: String!) { userStatus(phoneNumber: $p) { phoneNumber exists hasPassword } }"
SET_PASSWORD = """
mutation($password: String!, $old: String) {
  setPassword(password: $password, oldPassword: $old) { success token refreshToken }
}
"""
ME = "{ me { phoneNumber hasPassword dateJoined } }"
STRONG = "correct horse battery staple"


def test_scenario_1_sign_up_with_a_code_over_rest(api):
    assert api.get(f"/accounts/api/status/{PHONE}/").status_code == 404
    assert api.get(f"/accounts/api/otp/{PHONE}/").json()["details"] == "otp sent"
    response = api.post("/accounts/api/token/", {"phone_number": PHONE, "password": last_code()})
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"access", "refresh"} and body["created"] is True
    assert api.get(f"/accounts/api/status/{PHONE}/").json() == {"password": False}
    user = User.objects.get()
    assert str(user.phone_number) == E164
    assert not user.has_usable_password()
    assert user.last_login is not None


def test_scenario_1_sign_up_with_a_code_over_graphql(api):
    status = api.gql(STATUS, {"p": PHONE}).data["userStatus"]
    assert status == {"phoneNumber": E164, "exists": False, "hasPassword": False}
    sent = api.gql(SEND_OTP, {"phone": PHONE}).data["sendOtp"]
    assert sent == {"sent": True, "expiresIn": 120, "retryAfter": 60}
    result = api.gql(TOKEN_AUTH, {"phone": PHONE, "password": last_code()})
    auth = result.data["tokenAuth"]
    assert auth["created"] is True
    assert auth["user"] == {"phoneNumber": E164, "hasPassword": False}
    assert auth["payload"]["phoneNumber"] == E164
    me = api.gql(ME, token=auth["token"]).data["me"]
    assert me["phoneNumber"] == E164 and me["hasPassword"] is False
    status = api.gql(STATUS, {"p": "۰۹۱۱۲۲۲۳۳۴۴"}).data["userStatus"]
    assert status == {"phoneNumber": E164, "exists": True, "hasPassword": False}


def test_scenario_2_returning_user_logs_in_with_a_new_code(api):
    api.sign_up(PHONE)
    code = api.new_code(PHONE)
    result = api.gql(TOKEN_AUTH, {"phone": E164, "password": code})
    assert result.data["tokenAuth"]["created"] is False
    assert User.objects.count() == 1


def test_scenario_3_set_a_password_then_log_in_with_it(api):
    tokens = api.sign_up(PHONE)
    assert api.set_password(tokens["access"], STRONG)["success"] is True
    assert api.get(f"/accounts/api/status/{PHONE}/").json() == {"password": True}
    status = api.gql(STATUS, {"p": PHONE}).data["userStatus"]
    assert status["hasPassword"] is True
    # REST and GraphQL both accept number + password.
    assert api.login("+98 911 222 3344", STRONG)["created"] is False
    auth = api.gql(TOKEN_AUTH, {"phone": PHONE, "password": STRONG}).data["tokenAuth"]
    assert auth["user"]["hasPassword"] is True


def test_a_user_with_a_password_can_still_log_in_with_a_code(api):
    tokens = api.sign_up(PHONE)
    api.set_password(tokens["access"], STRONG)
    assert api.login(PHONE, api.new_code(PHONE))["created"] is False


@pytest.mark.parametrize("password", ["123456", "wrong", STRONG, "۱۲۳۴۵۶"])
def test_unknown_number_without_a_live_code_creates_nothing(api, password):
    response = api.post("/accounts/api/token/", {"phone_number": PHONE, "password": password})
    assert response.status_code == 401
    assert response.json()["code"] == "INVALID_CREDENTIALS"
    assert User.objects.count() == 0


def test_every_failure_gives_the_same_answer(api):
    answers = set()

    def attempt(phone, password):
        response = api.post("/accounts/api/token/", {"phone_number": phone, "password": password})
        assert response.status_code == 401
        answers.add(response.content)
        result = api.gql(TOKEN_AUTH, {"phone": phone, "password": password})
        answers.add((result.errors[0]["message"], tuple(result.error_codes)))

    attempt("09350001122", "123456")  # unknown number
    tokens = api.sign_up(PHONE)
    attempt(PHONE, "123456")  # used code, no live one
    api.set_password(tokens["access"], STRONG)
    attempt(PHONE, "not the password")  # wrong password
    assert len(answers) == 2  # one REST body, one GraphQL error


def test_inactive_users_never_log_in(api):
    api.sign_up(PHONE)
    User.objects.update(is_active=False)
    code = api.new_code(PHONE)
    response = api.post("/accounts/api/token/", {"phone_number": PHONE, "password": code})
    assert response.status_code == 401
    User.objects.update(password="")
    user = User.objects.get()
    user.set_password(STRONG)
    user.save()
    response = api.post("/accounts/api/token/", {"phone_number": PHONE, "password": STRONG})
    assert response.status_code == 401


class CountingHasher(MD5PasswordHasher):
    calls = 0

    def verify(self, password, encoded):
        CountingHasher.calls += 1
        return super().verify(password, encoded)


def test_hasher_is_not_run_without_a_usable_password(api, settings):
    settings.PASSWORD_HASHERS = ["tests.test_login.CountingHasher"]
    CountingHasher.calls = 0
    api.sign_up(PHONE)
    for phone in (PHONE, "09350001122"):
        response = api.post("/accounts/api/token/", {"phone_number": phone, "password": STRONG})
        assert response.status_code == 401
    assert CountingHasher.calls == 0
    user = User.objects.get()
    user.set_password(STRONG)
    user.save()
    api.login(PHONE, STRONG)
    assert CountingHasher.calls == 1


def test_set_password_rules(api):
    tokens = api.sign_up(PHONE)
    weak = api.gql(SET_PASSWORD, {"password": "123"}, token=tokens["access"])
    assert weak.error_codes == ["INVALID_PASSWORD"]
    assert weak.errors[0]["extensions"]["messages"]
    numeric = api.gql(SET_PASSWORD, {"password": "98765432101"}, token=tokens["access"])
    assert numeric.error_codes == ["INVALID_PASSWORD"]
    anonymous = api.gql(SET_PASSWORD, {"password": STRONG})
    assert anonymous.error_codes == ["UNAUTHENTICATED"]
    bad_token = api.gql(SET_PASSWORD, {"password": STRONG}, token="not.a.token")
    assert bad_token.error_codes == ["INVALID_TOKEN"]

    # A first password takes a fresh code: the access token alone is not enough.
    no_code = api.gql(SET_PASSWORD, {"password": STRONG}, token=tokens["access"])
    assert no_code.error_codes == ["STEP_UP_REQUIRED"]
    token = api.set_password(tokens["access"], STRONG)["token"]
    no_old = api.gql(SET_PASSWORD, {"password": "another good passphrase"}, token=token)
    assert no_old.error_codes == ["STEP_UP_REQUIRED"]
    wrong_old = api.gql(
        SET_PASSWORD, {"password": "another good passphrase", "old": "nope"}, token=token
    )
    assert wrong_old.error_codes == ["INVALID_CREDENTIALS"]
    changed = api.gql(
        SET_PASSWORD, {"password": "another good passphrase", "old": STRONG}, token=token
    )
    assert changed.data["setPassword"]["success"] is True
    assert api.login(PHONE, "another good passphrase")["access"]
    response = api.post("/accounts/api/token/", {"phone_number": PHONE, "password": STRONG})
    assert response.status_code == 401
    # A forgotten password: a fresh code sets a new one without the old.
    token = changed.data["setPassword"]["token"]
    forgotten = api.set_password(token, "a third good passphrase")
    assert forgotten["success"] is True
    assert api.login(PHONE, "a third good passphrase")["access"]


def test_set_password_ends_other_sessions_and_the_callers_goes_on(api):
    first = api.sign_up(PHONE)
    second = api.login(PHONE, api.new_code(PHONE))
    answer = api.set_password(first["access"], STRONG)
    assert answer["refreshToken"] == first["refresh"]  # the caller's session, as it was
    other = api.post("/accounts/api/token/refresh/", {"refresh": second["refresh"]})
    assert other.status_code == 401
    mine = api.post("/accounts/api/token/refresh/", {"refresh": answer["refreshToken"]})
    assert mine.status_code == 200


def test_me_is_null_when_anonymous(api):
    result = api.gql(ME)
    assert result.data == {"me": None} and result.errors == []


def test_scenario_2_returning_user_logs_in_with_a_new_code_over_rest(api):
    api.sign_up(PHONE)
    code = api.new_code("+98 911 222 33 44")
    assert api.login("00989112223344", code)["created"] is False
    assert User.objects.count() == 1
