"""Sessions a person can see and end: one row per login, listed and revoked through
GraphQL, logged out through REST, and refresh tokens from before sessions still working."""

from io import StringIO

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from accounts.models import RefreshToken, Session, User
from tests.helpers import PHONE

SESSIONS = """
{ sessions { id method createdAt lastRefreshedAt expiresAt userAgent clientIp current } }
"""
REVOKE_SESSION = "mutation($id: ID!) { revokeSession(id: $id) { revokedCount } }"
REVOKE_OTHERS = "mutation { revokeOtherSessions { revokedCount } }"
SET_PASSWORD = "mutation($p: String!) { setPassword(password: $p) { token refreshToken } }"


def login_from(api, phone, user_agent, ip):
    code = api.new_code(phone)
    response = api.client.post(
        "/accounts/api/token/",
        {"phone_number": phone, "password": code},
        content_type="application/json",
        HTTP_USER_AGENT=user_agent,
        REMOTE_ADDR=ip,
    )
    assert response.status_code == 200
    return response.json()


def refresh(api, token):
    return api.post("/accounts/api/token/refresh/", {"refresh": token})


def test_sessions_lists_every_login_with_the_callers_own_marked(api):
    phone_app = login_from(api, PHONE, "PhoneApp/1.0", "127.0.0.5")
    laptop = login_from(api, PHONE, "Mozilla/5.0 " + "x" * 400, "127.0.0.6")
    result = api.gql(SESSIONS, token=laptop["access"])
    listed = result.data["sessions"]
    assert len(listed) == 2
    by_agent = {s["userAgent"][:12]: s for s in listed}
    assert by_agent["PhoneApp/1.0"]["clientIp"] == "127.0.0.5"
    assert by_agent["PhoneApp/1.0"]["current"] is False
    mine = by_agent["Mozilla/5.0 "]
    assert mine["current"] is True and len(mine["userAgent"]) == 256
    assert mine["clientIp"] == "127.0.0.6" and mine["method"] == "CODE"
    assert mine["lastRefreshedAt"] is None
    refreshed = refresh(api, phone_app["refresh"]).json()
    again = api.gql(SESSIONS, token=refreshed["access"]).data["sessions"]
    assert again[0]["current"] is True and again[0]["lastRefreshedAt"] is not None


def test_sessions_needs_a_login(api):
    assert api.gql(SESSIONS).error_codes == ["UNAUTHENTICATED"]
    assert api.gql(REVOKE_OTHERS).error_codes == ["UNAUTHENTICATED"]


def test_access_tokens_carry_their_session(api):
    tokens = api.sign_up(PHONE)
    payload = api.gql(
        "mutation($t: String!) { verifyToken(token: $t) { payload { sid sub iss } } }",
        {"t": tokens["access"]},
    ).data["verifyToken"]["payload"]
    assert payload["sid"] == str(Session.objects.get().pk)
    assert payload["iss"] == settings.JWT_ISSUER


def test_revoke_session_ends_one_of_your_own(api):
    first = login_from(api, PHONE, "A", "127.0.0.7")
    second = login_from(api, PHONE, "B", "127.0.0.8")
    first_id = api.gql(SESSIONS, token=first["access"]).data["sessions"]
    first_id = next(s["id"] for s in first_id if s["current"])
    result = api.gql(REVOKE_SESSION, {"id": first_id}, token=second["access"])
    assert result.data == {"revokeSession": {"revokedCount": 1}}
    # Its refresh token stops at once; the other session goes on.
    assert refresh(api, first["refresh"]).status_code == 401
    assert refresh(api, second["refresh"]).status_code == 200
    again = api.gql(REVOKE_SESSION, {"id": first_id}, token=second["access"])
    assert again.data == {"revokeSession": {"revokedCount": 0}}


def test_someone_elses_session_answers_as_an_unknown_one(api):
    mine = api.sign_up(PHONE)
    theirs = api.sign_up("09120000000")
    their_id = str(Session.objects.get(user__phone_number="+989120000000").pk)
    for session_id in (their_id, "00000000-0000-0000-0000-000000000000", "not-an-id", "\x00"):
        result = api.gql(REVOKE_SESSION, {"id": session_id}, token=mine["access"])
        assert result.data == {"revokeSession": {"revokedCount": 0}}
    assert refresh(api, theirs["refresh"]).status_code == 200


def test_revoke_other_sessions_keeps_only_the_callers(api):
    others = [login_from(api, PHONE, f"device {i}", "127.0.0.9") for i in range(3)]
    mine = login_from(api, PHONE, "this one", "127.0.0.10")
    result = api.gql(REVOKE_OTHERS, token=mine["access"])
    assert result.data == {"revokeOtherSessions": {"revokedCount": 3}}
    for other in others:
        assert refresh(api, other["refresh"]).status_code == 401
    assert refresh(api, mine["refresh"]).status_code == 200
    assert api.gql(REVOKE_OTHERS, token=mine["access"]).data["revokeOtherSessions"] == {
        "revokedCount": 0
    }


def test_set_password_ends_every_session_but_the_callers(api):
    other = login_from(api, PHONE, "other", "127.0.0.11")
    mine = login_from(api, PHONE, "mine", "127.0.0.12")
    new = api.set_password(mine["access"], "a brand new passphrase")
    assert new["refreshToken"] == mine["refresh"]
    assert refresh(api, other["refresh"]).status_code == 401
    assert refresh(api, mine["refresh"]).status_code == 200
    live = Session.objects.filter(revoked_at__isnull=True).get()
    assert live.user_agent == "mine" and live.method == Session.Method.CODE


def test_a_revoked_sessions_access_token_is_refused_at_once(
    api, django_capture_on_commit_callbacks
):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        tokens = api.sign_up(PHONE)
        with django_capture_on_commit_callbacks(execute=True):
            logout = api.post("/accounts/api/token/blacklist/", {"refresh": tokens["refresh"]})
        assert logout.json() == {}
        verify = api.post("/accounts/api/token/verify/", {"token": tokens["access"]})
        assert verify.status_code == 401 and verify.json()["code"] == "token_not_valid"
        clock.shift(settings.JWT_ACCESS_TOKEN_LIFETIME + 1)
        verify = api.post("/accounts/api/token/verify/", {"token": tokens["access"]})
        assert verify.status_code == 401


def test_rest_blacklist_logs_out(api):
    tokens = api.sign_up(PHONE)
    response = api.post("/accounts/api/token/blacklist/", {"refresh": tokens["refresh"]})
    assert response.status_code == 200 and response.json() == {}
    assert refresh(api, tokens["refresh"]).status_code == 401
    again = api.post("/accounts/api/token/blacklist/", {"refresh": tokens["refresh"]})
    assert again.status_code == 401 and again.json()["code"] == "token_not_valid"
    missing = api.post("/accounts/api/token/blacklist", {})
    assert missing.status_code == 400 and missing.json()["code"] == "INVALID_INPUT"


def test_a_refresh_token_from_before_sessions_still_works_once(api):
    user = User.objects.create_user(PHONE)
    raw = "ab" * 32
    legacy = RefreshToken(user=user, expires_at=timezone.now() + timezone.timedelta(days=3))
    legacy._cached_token = raw
    legacy.save()
    first = refresh(api, raw)
    assert first.status_code == 200
    session = Session.objects.get()
    assert session.method == Session.Method.LEGACY
    assert session.expires_at == legacy.expires_at  # the session keeps the token's end
    # A retry within the grace window gets the same new token; the new one rotates on.
    assert refresh(api, raw).json()["refresh"] == first.json()["refresh"]
    assert refresh(api, first.json()["refresh"]).status_code == 200
    assert refresh(api, raw).status_code == 401


def test_expired_sessions_are_purged(api):
    from io import StringIO

    from django.core.management import call_command

    with time_machine.travel(timezone.now(), tick=False) as clock:
        api.sign_up(PHONE)
        clock.shift(settings.JWT_REFRESH_TOKEN_LIFETIME + 1)
        out = StringIO()
        call_command("purge_expired", stdout=out)
        assert "1 expired session(s)" in out.getvalue()
        assert Session.objects.count() == 0


def test_the_former_purge_command_still_runs_and_says_it_is_deprecated(db):
    out, err = StringIO(), StringIO()
    with pytest.warns(DeprecationWarning, match="purge_expired"):
        call_command("purge_otps", stdout=out, stderr=err)
    assert "deprecated" in err.getvalue()
    assert "expired session(s)" in out.getvalue()
