"""The admin finds people by any written form of their number and never shows a secret."""

from unittest.mock import patch

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from accounts.models import OTPChallenge, Session, User
from accounts.outbound import events
from tests.helpers import PHONE


@pytest.fixture
def admin_client(db):
    staff = User.objects.create_superuser("09350001122", "an admin passphrase 42")
    client = Client()
    client.force_login(staff)
    return client


def test_admin_login_accepts_any_form_of_the_number(db):
    User.objects.create_superuser("+989350001122", "an admin passphrase 42")
    client = Client()
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": "۰۹۳۵ ۰۰۰ ۱۱۲۲", "password": "an admin passphrase 42"},
    )
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


@pytest.mark.parametrize("term", ["09112223344", "۰۹۱۱۲۲۲۳۳۴۴", "+98 911 222 3344", "2223344"])
def test_user_search_by_any_form(api, admin_client, term):
    api.sign_up(PHONE)
    User.objects.create_user("09120000000")
    response = admin_client.get("/admin/accounts/user/", {"q": term})
    assert response.status_code == 200
    page = response.content.decode()
    assert "+989112223344" in page
    assert "+989120000000" not in page


def test_secrets_are_not_shown(api, admin_client):
    tokens = api.sign_up(PHONE)
    api.send_code("09350001122")
    challenge = OTPChallenge.objects.get(phone_number="+989350001122")
    session = Session.objects.first()
    pages = [
        admin_client.get("/admin/accounts/otpchallenge/"),
        admin_client.get(f"/admin/accounts/otpchallenge/{challenge.pk}/change/"),
        admin_client.get("/admin/accounts/session/"),
        admin_client.get(f"/admin/accounts/session/{session.pk}/change/"),
    ]
    for page in pages:
        assert page.status_code == 200
        html = page.content.decode()
        assert challenge.code_hash not in html
        assert tokens["refresh"] not in html
        assert tokens["refresh"].rsplit(".", 1)[1] not in html


def test_revoke_action_ends_the_session(api, admin_client):
    tokens = api.sign_up(PHONE)
    session = Session.objects.get()
    response = admin_client.post(
        "/admin/accounts/session/",
        {"action": "revoke", "_selected_action": [session.pk]},
    )
    assert response.status_code == 302
    again = api.post("/accounts/api/token/refresh/", {"refresh": tokens["refresh"]})
    assert again.status_code == 401


# --- the admin's login goes through the API's limits ---------------------------------

STAFF = "09350001122"
STAFF_PASSWORD = "an admin passphrase 42"


def admin_login(password: str, phone: str = STAFF, ip: str = "127.0.0.1"):
    """Post the admin's login form as a browser would; the form's errors as the client
    sees them (empty after a login)."""
    client = Client(REMOTE_ADDR=ip, HTTP_ACCEPT_LANGUAGE="en")
    response = client.post("/admin/login/?next=/admin/", {"username": phone, "password": password})
    if response.status_code == 302:
        return "logged in", []
    assert response.status_code == 200
    errors = response.context["form"].non_field_errors()
    return "refused", list(errors)


@pytest.fixture
def staff(db):
    return User.objects.create_superuser(STAFF, STAFF_PASSWORD)


def _wrong_admin_logins(count: int, phone: str = STAFF) -> None:
    for i in range(count):
        outcome, _ = admin_login(f"wrong guess {i}", phone=phone, ip=f"127.2.0.{i + 1}")
        assert outcome == "refused"


def test_wrong_admin_passwords_lock_the_account_until_the_lock_ends(staff, settings):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        _wrong_admin_logins(settings.PASSWORD_LOCKOUT_THRESHOLD)
        outcome, errors = admin_login(STAFF_PASSWORD)
        assert outcome == "refused"
        assert errors == ["Too many requests. Try again later."]
        clock.shift(settings.PASSWORD_LOCKOUT_SECONDS - 1)
        assert admin_login(STAFF_PASSWORD)[0] == "refused"
        clock.shift(1)
        assert admin_login(STAFF_PASSWORD) == ("logged in", [])


def test_a_locked_account_is_refused_without_running_the_hasher(staff, settings):
    from django.contrib.auth.hashers import get_hasher

    _wrong_admin_logins(settings.PASSWORD_LOCKOUT_THRESHOLD)
    hasher = type(get_hasher())
    with patch.object(hasher, "verify", side_effect=AssertionError("hasher ran")):
        assert admin_login(STAFF_PASSWORD)[0] == "refused"


def test_an_api_lockout_holds_at_the_admin(api, staff, settings):
    for i in range(settings.PASSWORD_LOCKOUT_THRESHOLD):
        response = api.post(
            "/accounts/api/token/", {"phone_number": STAFF, "password": f"wrong {i}"}
        )
        assert response.status_code == 401
    assert admin_login(STAFF_PASSWORD)[0] == "refused"


def test_an_admin_lockout_holds_at_the_api(api, staff, settings):
    _wrong_admin_logins(settings.PASSWORD_LOCKOUT_THRESHOLD)
    response = api.post("/accounts/api/token/", {"phone_number": STAFF, "password": STAFF_PASSWORD})
    assert response.status_code == 429
    assert response.json()["code"] == "RATE_LIMITED"


def test_admin_failures_count_against_the_per_ip_budget(api, db, settings):
    settings.LOGIN_FAILURES_PER_IP_PER_HOUR = 3
    for i in range(3):
        User.objects.create_superuser(f"0935000{i:04d}", STAFF_PASSWORD)
        assert admin_login("wrong", phone=f"0935000{i:04d}", ip="127.3.0.1")[0] == "refused"
    User.objects.create_superuser(STAFF, STAFF_PASSWORD)
    outcome, errors = admin_login(STAFF_PASSWORD, ip="127.3.0.1")
    assert (outcome, errors) == ("refused", ["Too many requests. Try again later."])
    # The API counts the same budget for the same address.
    response = api.client.post(
        "/accounts/api/token/",
        {"phone_number": STAFF, "password": STAFF_PASSWORD},
        content_type="application/json",
        REMOTE_ADDR="127.3.0.1",
    )
    assert response.status_code == 429
    assert admin_login(STAFF_PASSWORD, ip="127.3.0.2") == ("logged in", [])


def test_a_non_staff_account_with_its_right_password_looks_like_a_wrong_one(db):
    User.objects.create_user(PHONE, "a member passphrase 42")
    right = admin_login("a member passphrase 42", phone=PHONE)
    wrong = admin_login("not the passphrase", phone=PHONE)
    assert right == wrong
    assert right[0] == "refused"
    # Both were counted the same way: neither reset the failure count.
    assert User.objects.get().failed_logins == 2


def test_an_inactive_staff_account_with_its_right_password_looks_like_a_wrong_one(staff):
    User.objects.update(is_active=False)
    assert admin_login(STAFF_PASSWORD) == admin_login("not the passphrase")


@pytest.mark.parametrize("term", ["\x00", "0911\x00", "\ufffd" * 50, "%" * 300])
def test_admin_search_with_odd_terms_answers(admin_client, term):
    assert admin_client.get("/admin/accounts/user/", {"q": term}).status_code == 200


# --- the admin's changes follow the API's rules ----------------------------------------


def change_form(admin_client, user, **fields):
    data = {"phone_number": str(user.phone_number), "is_active": "on", "_save": "Save"}
    data.update(fields)
    data = {key: value for key, value in data.items() if value is not None}
    return admin_client.post(f"/admin/accounts/user/{user.pk}/change/", data)


def test_deactivating_in_the_admin_ends_every_session(api, admin_client):
    tokens = api.sign_up(PHONE)
    user = User.objects.get(phone_number="+989112223344")
    assert change_form(admin_client, user, is_active=None).status_code == 302
    assert User.objects.get(pk=user.pk).is_active is False
    assert set(Session.objects.filter(user=user).values_list("revoked_reason", flat=True)) == {
        "admin"
    }
    refused = api.post("/accounts/api/token/refresh/", {"refresh": tokens["refresh"]})
    assert refused.status_code == 401


def test_a_number_edited_in_the_admin_ends_sessions_and_is_announced(
    api, admin_client, django_capture_on_commit_callbacks
):
    tokens = api.sign_up(PHONE)
    user = User.objects.get(phone_number="+989112223344")
    heard = []

    def receiver(sender, signal, **kwargs):
        heard.append(kwargs)

    events.phone_number_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = change_form(admin_client, user, phone_number="09125556677")
    finally:
        events.phone_number_changed.disconnect(receiver)
    assert response.status_code == 302
    assert heard == [
        {
            "user": user,
            "old_phone_number": "+98911****344",
            "new_phone_number": "+98912****677",
        }
    ]
    assert Session.objects.get(user=user).revoked_reason == "number_changed"
    refused = api.post("/accounts/api/token/refresh/", {"refresh": tokens["refresh"]})
    assert refused.status_code == 401
    assert api.get(f"/accounts/api/status/{PHONE}/").status_code == 404


@pytest.mark.parametrize("how", ["delete view", "delete action"])
def test_deleting_in_the_admin_is_the_same_deletion(api, admin_client, how):
    api.sign_up(PHONE)
    user = User.objects.get(phone_number="+989112223344")
    if how == "delete view":
        response = admin_client.post(f"/admin/accounts/user/{user.pk}/delete/", {"post": "yes"})
    else:
        response = admin_client.post(
            "/admin/accounts/user/",
            {"action": "delete_selected", "_selected_action": [user.pk], "post": "yes"},
        )
    assert response.status_code == 302
    assert not User.objects.filter(pk=user.pk).exists()
    assert OTPChallenge.objects.count() == 0 and Session.objects.count() == 0
    assert api.login(PHONE, api.send_code(PHONE))["created"] is True
