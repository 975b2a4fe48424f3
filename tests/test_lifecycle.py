"""Sensitive changes take a fresh proof: a code sent to the account's number and not used
before, or its password. A valid access token alone is never enough."""

from contextlib import contextmanager

import pytest

from accounts.models import OTPChallenge, Session, User
from accounts.outbound import events
from tests.conftest import last_code
from tests.helpers import OTHER_PHONE, PHONE

REMOVE_PASSWORD = """
mutation($code: String, $old: String) {
  removePassword(code: $code, oldPassword: $old) { removed }
}
"""
DELETE_ACCOUNT = """
mutation($code: String, $old: String) { deleteAccount(code: $code, oldPassword: $old) { deleted } }
"""
SET_PASSWORD = "mutation($p: String!) { setPassword(password: $p) { token refreshToken } }"
CHANGE_NUMBER = """
mutation($new: String!, $newCode: String!, $code: String, $old: String) {
  changePhoneNumber(
    newPhoneNumber: $new, newNumberCode: $newCode, code: $code, oldPassword: $old
  ) { user { phoneNumber hasPassword } }
}
"""
NEW_PHONE, NEW_E164 = "09125556677", "+989125556677"
PASSWORD = "a long and fine passphrase"
ME = "{ me { phoneNumber hasPassword } }"
STATUS = "query($p: String!) { userStatus(phoneNumber: $p) { exists hasPassword } }"


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


SET_PASSWORD_PROVED = """
mutation($p: String!, $code: String, $old: String) {
  setPassword(password: $p, code: $code, oldPassword: $old) { success }
}
"""


class Change:
    """One sensitive mutation, with the variables it needs besides its proof."""

    def __init__(self, document: str, **needs: str) -> None:
        self.document, self.needs = document, needs

    def __call__(self, api, token=None, **proof):
        return api.gql(self.document, {**self.needs, **proof}, token=token)


@pytest.fixture(params=["setPassword", "removePassword", "changePhoneNumber", "deleteAccount"])
def change(request, api):
    if request.param == "setPassword":
        return Change(SET_PASSWORD_PROVED, p="another fine passphrase")
    if request.param == "changePhoneNumber":
        return Change(CHANGE_NUMBER, new=NEW_PHONE, newCode=api.send_code(NEW_PHONE))
    return Change(REMOVE_PASSWORD if request.param == "removePassword" else DELETE_ACCOUNT)


@pytest.fixture
def signed_up(api):
    """An account with a password and a second session, as its owner's phone holds it."""
    tokens = api.sign_up(PHONE)
    pair = api.set_password(tokens["access"], PASSWORD)
    other = api.login(PHONE, PASSWORD)
    return {"access": pair["token"], "refresh": pair["refreshToken"], "other": other}


def test_an_access_token_alone_is_refused(api, signed_up, change):
    answer = change(api, token=signed_up["access"])
    assert answer.error_codes == ["STEP_UP_REQUIRED"]
    assert User.objects.get().has_usable_password()


def test_no_token_is_unauthenticated(api, signed_up, change):
    assert change(api, old=PASSWORD).error_codes == ["UNAUTHENTICATED"]


def test_a_wrong_used_or_foreign_code_is_refused(api, signed_up, change):
    token = signed_up["access"]
    code = api.new_code(PHONE)
    assert change(api, token=token, code=wrong(code)).error_codes == ["INVALID_CREDENTIALS"]
    assert OTPChallenge.objects.get(phone_number="+989112223344").attempts == 1
    # A code of another number proves nothing about this one.
    foreign = api.send_code(OTHER_PHONE)
    assert change(api, token=token, code=foreign).error_codes == ["INVALID_CREDENTIALS"]
    # A code spent on a login is spent.
    api.login(PHONE, code)
    assert change(api, token=token, code=code).error_codes == ["INVALID_CREDENTIALS"]
    assert User.objects.filter(phone_number="+989112223344").get().has_usable_password()


def test_a_wrong_password_counts_towards_the_lockout(api, signed_up, change, settings):
    settings.PASSWORD_LOCKOUT_THRESHOLD = 2
    token = signed_up["access"]
    for _ in range(2):
        answer = change(api, token=token, old="not the password")
        assert answer.error_codes == ["INVALID_CREDENTIALS"]
    assert change(api, token=token, old=PASSWORD).error_codes == ["RATE_LIMITED"]


def test_a_code_cannot_be_guessed_past_its_attempt_cap(api, signed_up, change, settings):
    token = signed_up["access"]
    code = api.new_code(PHONE)
    for _ in range(settings.OTP_MAX_ATTEMPTS):
        change(api, token=token, code=wrong(code))
    assert change(api, token=token, code=code).error_codes == ["INVALID_CREDENTIALS"]


@contextmanager
def hearing(signal):
    heard = []

    def receiver(sender, signal, **kwargs):
        heard.append(kwargs)

    signal.connect(receiver)
    try:
        yield heard
    finally:
        signal.disconnect(receiver)


def test_remove_password_with_a_code_ends_every_other_session(
    api, signed_up, django_capture_on_commit_callbacks
):
    code = api.new_code(PHONE)
    with (
        hearing(events.password_removed) as heard,
        django_capture_on_commit_callbacks(execute=True),
    ):
        answer = api.gql(REMOVE_PASSWORD, {"code": code}, token=signed_up["access"])
    assert answer.data == {"removePassword": {"removed": True}}
    assert heard == [{"user": User.objects.get()}]
    assert api.gql(ME, token=signed_up["access"]).data["me"]["hasPassword"] is False
    assert api.gql(STATUS, {"p": PHONE}).data["userStatus"]["hasPassword"] is False
    refused = api.post("/accounts/api/token/", {"phone_number": PHONE, "password": PASSWORD})
    assert refused.json()["code"] == "INVALID_CREDENTIALS"
    # The caller's session goes on; the other device's has ended.
    mine = api.post("/accounts/api/token/refresh/", {"refresh": signed_up["refresh"]})
    assert mine.status_code == 200
    other = api.post("/accounts/api/token/refresh/", {"refresh": signed_up["other"]["refresh"]})
    assert other.json()["code"] == "token_not_valid"
    # Once code-only, there is nothing left to remove, and no password proves anything.
    again = api.gql(REMOVE_PASSWORD, {"code": api.new_code(PHONE)}, token=signed_up["access"])
    assert again.data == {"removePassword": {"removed": False}}


def test_delete_account_removes_everything_tied_to_the_number(
    api, signed_up, django_capture_on_commit_callbacks
):
    user_id = User.objects.get().pk
    with (
        hearing(events.account_deleted) as heard,
        django_capture_on_commit_callbacks(execute=True),
    ):
        answer = api.gql(DELETE_ACCOUNT, {"old": PASSWORD}, token=signed_up["access"])
    assert answer.data == {"deleteAccount": {"deleted": True}}
    assert heard == [{"user_id": user_id, "phone_number": "+98911****344"}]
    assert User.objects.count() == 0 and Session.objects.count() == 0
    assert OTPChallenge.objects.count() == 0
    assert api.gql(STATUS, {"p": PHONE}).data["userStatus"] == {
        "exists": False,
        "hasPassword": False,
    }
    assert api.get(f"/accounts/api/status/{PHONE}/").status_code == 404
    # Its tokens are dead, and the number signs up afresh.
    assert api.gql(ME, token=signed_up["access"]).error_codes == ["INVALID_TOKEN"]
    refresh = api.post("/accounts/api/token/refresh/", {"refresh": signed_up["refresh"]})
    assert refresh.status_code == 401
    assert api.login(PHONE, api.send_code(PHONE))["created"] is True


def test_a_code_only_account_deletes_itself_with_a_code(api):
    tokens = api.sign_up(PHONE)
    assert api.gql(DELETE_ACCOUNT, {"old": "x"}, token=tokens["access"]).error_codes == [
        "INVALID_CREDENTIALS"
    ]
    code = api.new_code(PHONE)
    answer = api.gql(DELETE_ACCOUNT, {"code": code}, token=tokens["access"])
    assert answer.data == {"deleteAccount": {"deleted": True}}
    assert User.objects.count() == 0
    assert last_code() == code


def test_one_sensitive_field_per_document(api, signed_up):
    document = (
        'mutation { a: deleteAccount(oldPassword: "x") { deleted } '
        'b: deleteAccount(oldPassword: "y") { deleted } }'
    )
    assert api.gql(document, token=signed_up["access"]).error_codes == ["QUERY_TOO_COMPLEX"]


def test_a_number_change_needs_both_proofs(api, signed_up):
    token = signed_up["access"]
    new_code = api.send_code(NEW_PHONE)
    no_owner = api.gql(CHANGE_NUMBER, {"new": NEW_PHONE, "newCode": new_code}, token=token)
    assert no_owner.error_codes == ["STEP_UP_REQUIRED"]
    wrong_new = {"new": NEW_PHONE, "newCode": wrong(new_code), "old": PASSWORD}
    assert api.gql(CHANGE_NUMBER, wrong_new, token=token).error_codes == ["INVALID_CREDENTIALS"]
    # The current number's code does not prove the new SIM.
    own_code = api.new_code(PHONE)
    mixed = {"new": NEW_PHONE, "newCode": own_code, "old": PASSWORD}
    assert api.gql(CHANGE_NUMBER, mixed, token=token).error_codes == ["INVALID_CREDENTIALS"]
    assert User.objects.get(pk=User.objects.get().pk).phone_number == "+989112223344"


def test_a_number_change_moves_the_account_and_ends_other_sessions(api, signed_up):
    token = signed_up["access"]
    variables = {"new": NEW_PHONE, "newCode": api.send_code(NEW_PHONE), "old": PASSWORD}
    answer = api.gql(CHANGE_NUMBER, variables, token=token)
    assert answer.data == {
        "changePhoneNumber": {"user": {"phoneNumber": NEW_E164, "hasPassword": True}}
    }
    assert api.gql(STATUS, {"p": PHONE}).data["userStatus"]["exists"] is False
    assert api.gql(STATUS, {"p": NEW_PHONE}).data["userStatus"]["exists"] is True
    mine = api.post("/accounts/api/token/refresh/", {"refresh": signed_up["refresh"]})
    assert mine.status_code == 200
    assert api.gql(ME, token=mine.json()["access"]).data["me"]["phoneNumber"] == NEW_E164
    other = api.post("/accounts/api/token/refresh/", {"refresh": signed_up["other"]["refresh"]})
    assert other.json()["code"] == "token_not_valid"
    assert api.login(NEW_PHONE, PASSWORD)["created"] is False
    # The old number is free: it signs up as a new account.
    assert api.login(PHONE, api.new_code(PHONE))["created"] is True


def test_a_number_with_an_account_is_taken(api, signed_up):
    api.sign_up(NEW_PHONE)
    variables = {"new": NEW_PHONE, "newCode": api.new_code(NEW_PHONE), "old": PASSWORD}
    answer = api.gql(CHANGE_NUMBER, variables, token=signed_up["access"])
    assert answer.error_codes == ["PHONE_NUMBER_TAKEN"]
    own = {"new": PHONE, "newCode": "123456", "old": PASSWORD}
    assert api.gql(CHANGE_NUMBER, own, token=signed_up["access"]).error_codes == [
        "PHONE_NUMBER_TAKEN"
    ]


def test_a_number_that_cannot_get_codes_is_refused(api, signed_up):
    variables = {"new": "02188776655", "newCode": "123456", "old": PASSWORD}
    answer = api.gql(CHANGE_NUMBER, variables, token=signed_up["access"])
    assert answer.error_codes == ["INVALID_PHONE_NUMBER"]
