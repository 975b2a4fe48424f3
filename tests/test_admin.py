"""The admin finds people by any written form of their number and never shows a secret."""

import pytest
from django.test import Client

from accounts.models import OTPChallenge, RefreshToken, User

PHONE = "09112223344"


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
    refresh = RefreshToken.objects.first()
    pages = [
        admin_client.get("/admin/accounts/otpchallenge/"),
        admin_client.get(f"/admin/accounts/otpchallenge/{challenge.pk}/change/"),
        admin_client.get("/admin/accounts/refreshtoken/"),
        admin_client.get(f"/admin/accounts/refreshtoken/{refresh.pk}/change/"),
    ]
    for page in pages:
        assert page.status_code == 200
        html = page.content.decode()
        assert challenge.code_hash not in html
        assert refresh.token not in html and tokens["refresh"] not in html


def test_revoke_action_ends_the_session(api, admin_client):
    tokens = api.sign_up(PHONE)
    refresh = RefreshToken.objects.get()
    response = admin_client.post(
        "/admin/accounts/refreshtoken/",
        {"action": "revoke", "_selected_action": [refresh.pk]},
    )
    assert response.status_code == 302
    again = api.post("/accounts/api/token/refresh/", {"refresh": tokens["refresh"]})
    assert again.status_code == 401
