"""Access JWTs that really expire; refresh tokens that rotate in place, in one session row
per login, and are never stored."""

import base64
import json

import jwt
import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from accounts.models import Session
from tests.helpers import PHONE

REFRESH = """
mutation($t: String!) {
  refreshToken(refreshToken: $t) {
    token refreshToken payload { sub phoneNumber sid iat exp } refreshExpiresIn
  }
}
"""
VERIFY = (
    "mutation($t: String!) { verifyToken(token: $t) { payload { sub phoneNumber sid iat exp } } }"
)
REVOKE = "mutation($t: String!) { revokeToken(refreshToken: $t) { revoked } }"
ME = "{ me { phoneNumber } }"


def refresh_rest(api, token):
    return api.post("/accounts/api/token/refresh/", {"refresh": token})


def verify_rest(api, token):
    return api.post("/accounts/api/token/verify/", {"token": token})


def test_refresh_rotates_and_the_old_token_dies(api):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        tokens = api.sign_up(PHONE)
        response = refresh_rest(api, tokens["refresh"])
        assert response.status_code == 200
        rotated = response.json()
        assert set(rotated) == {"access", "refresh"}
        assert rotated["refresh"] != tokens["refresh"]
        clock.shift(settings.JWT_REFRESH_TOKEN_REUSE_GRACE + 1)
        result = api.gql(REFRESH, {"t": rotated["refresh"]})
        payload = result.data["refreshToken"]
        assert payload["payload"]["phoneNumber"] == "+989112223344"
        assert payload["refreshExpiresIn"] > timezone.now().timestamp()
        # One row for the login, advanced in place: no row per rotation.
        session = Session.objects.get()
        assert session.generation == 3 and session.revoked_at is None
        assert payload["payload"]["sid"] == str(session.pk)


def test_a_retry_within_the_grace_window_gets_the_same_new_token(api):
    tokens = api.sign_up(PHONE)
    first = refresh_rest(api, tokens["refresh"]).json()
    retry = refresh_rest(api, tokens["refresh"]).json()
    assert retry["refresh"] == first["refresh"]
    assert Session.objects.get().generation == 2  # no second child was minted
    assert refresh_rest(api, first["refresh"]).status_code == 200


def test_reuse_after_the_grace_window_ends_that_session_only(api, caplog):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        stolen = api.sign_up(PHONE)
        other_device = api.login(PHONE, api.new_code(PHONE))
        thief = refresh_rest(api, stolen["refresh"]).json()
        clock.shift(settings.JWT_REFRESH_TOKEN_REUSE_GRACE + 1)
        thief = refresh_rest(api, thief["refresh"]).json()  # the thief rotates on
        replay = refresh_rest(api, stolen["refresh"])  # the owner comes back
        assert replay.status_code == 401
        assert replay.json()["code"] == "token_not_valid"
        # The whole chain rotated from that login is dead, the thief's newest included.
        assert refresh_rest(api, thief["refresh"]).status_code == 401
        # Another login of the same person goes on.
        assert refresh_rest(api, other_device["refresh"]).status_code == 200
        reasons = dict(Session.objects.values_list("pk", "revoked_reason"))
        assert sorted(reasons.values()) == ["", Session.Reason.REUSE_DETECTED]
        assert "Refresh token reuse" in caplog.text and "revoked" in caplog.text


def test_a_forged_generation_or_session_id_is_refused_without_ending_anything(api):
    tokens = api.sign_up(PHONE)
    session_id, generation, mac = tokens["refresh"].split(".")
    for forged in (
        f"{session_id}.{int(generation) + 1}.{mac}",
        f"{session_id}.{generation}.{'A' * 43}",
        f"{'0' * 32}.{generation}.{mac}",
        f"{session_id}.0.{mac}",
    ):
        assert refresh_rest(api, forged).status_code == 401
    assert Session.objects.get().revoked_at is None
    assert refresh_rest(api, tokens["refresh"]).status_code == 200


def test_a_logged_out_token_is_refused_without_revoking_the_rest(api):
    first = api.sign_up(PHONE)
    second = api.login(PHONE, api.new_code(PHONE))
    assert api.gql(REVOKE, {"t": first["refresh"]}).data["revokeToken"]["revoked"] is True
    assert refresh_rest(api, first["refresh"]).status_code == 401
    assert refresh_rest(api, second["refresh"]).status_code == 200


def test_rotation_keeps_the_absolute_expiry(api):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        tokens = api.sign_up(PHONE)
        expiry = Session.objects.get().expires_at
        clock.shift(settings.JWT_REFRESH_TOKEN_LIFETIME - 60)
        rotated = refresh_rest(api, tokens["refresh"]).json()
        assert Session.objects.get(revoked_at__isnull=True).expires_at == expiry
        clock.shift(61)
        assert refresh_rest(api, rotated["refresh"]).status_code == 401


def test_refresh_tokens_are_never_stored(api):
    tokens = api.sign_up(PHONE)
    mac = tokens["refresh"].rsplit(".", 1)[1]
    rows = json.dumps(list(Session.objects.values()), default=str)
    assert tokens["refresh"] not in rows and mac not in rows


def test_refresh_token_expires(api):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        tokens = api.sign_up(PHONE)
        clock.shift(settings.JWT_REFRESH_TOKEN_LIFETIME + 1)
        assert refresh_rest(api, tokens["refresh"]).status_code == 401


def test_access_token_expires_after_its_lifetime(api):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        tokens = api.sign_up(PHONE)
        assert verify_rest(api, tokens["access"]).json() == {}
        assert api.gql(ME, token=tokens["access"]).data["me"]["phoneNumber"]
        clock.shift(301)
        response = verify_rest(api, tokens["access"])
        assert response.status_code == 401
        assert response.json()["code"] == "token_not_valid"
        assert api.gql(VERIFY, {"t": tokens["access"]}).error_codes == ["INVALID_TOKEN"]
        assert api.gql(ME, token=tokens["access"]).error_codes == ["INVALID_TOKEN"]


def test_verify_returns_the_payload(api):
    tokens = api.sign_up(PHONE)
    payload = api.gql(VERIFY, {"t": tokens["access"]}).data["verifyToken"]["payload"]
    assert payload["phoneNumber"] == "+989112223344"
    assert payload["exp"] - payload["iat"] == 300


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def forged_tokens(real: str) -> dict[str, str]:
    claims = jwt.decode(real, options={"verify_signature": False})
    header, body, signature = real.split(".")
    tampered = dict(claims, sub="999")
    return {
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
        "other key": jwt.encode(claims, "another-secret-key-that-is-long-enough-000", "HS256"),
        "other algorithm": jwt.encode(claims, settings.SECRET_KEY, "HS512"),
        "tampered body": f"{header}.{_b64(tampered)}.{signature}",
        "bad signature": f"{header}.{body}.{signature[::-1]}",
        "garbage": "not-a-jwt",
        "empty segments": "..",
        "huge": "a" * 5_000,
    }


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize(
    "kind",
    [
        "alg none",
        "other key",
        "other algorithm",
        "tampered body",
        "bad signature",
        "garbage",
        "empty segments",
        "huge",
    ],
)
def test_forged_tokens_are_rejected(api, kind):
    forged = forged_tokens(api.sign_up(PHONE)["access"])[kind]
    response = verify_rest(api, forged)
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"
    assert api.gql(VERIFY, {"t": forged}).error_codes == ["INVALID_TOKEN"]
    assert api.gql(ME, token=forged).error_codes == ["INVALID_TOKEN"]


def test_access_token_of_a_deactivated_user_cannot_read_me(api):
    from accounts.models import User

    tokens = api.sign_up(PHONE)
    User.objects.update(is_active=False)
    assert api.gql(ME, token=tokens["access"]).error_codes == ["INVALID_TOKEN"]
    assert refresh_rest(api, tokens["refresh"]).status_code == 401


def test_revoke_logs_out(api):
    tokens = api.sign_up(PHONE)
    assert api.gql(REVOKE, {"t": tokens["refresh"]}).data == {"revokeToken": {"revoked": True}}
    assert refresh_rest(api, tokens["refresh"]).status_code == 401
    assert api.gql(REVOKE, {"t": tokens["refresh"]}).error_codes == ["INVALID_TOKEN"]


def test_malformed_authorization_header_is_invalid_token(api):
    result = api.gql(ME, HTTP_AUTHORIZATION="JWT")
    assert result.error_codes == ["INVALID_TOKEN"]
    tokens = api.sign_up(PHONE)
    bearer = api.gql(ME, HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert bearer.data["me"]["phoneNumber"] == "+989112223344"


def test_jwt_cookie_is_not_a_credential(api):
    tokens = api.sign_up(PHONE)
    api.client.cookies["JWT"] = tokens["access"]
    assert api.gql(ME).data == {"me": None}


def test_every_access_token_is_distinct(api):
    tokens = api.sign_up(PHONE)
    rotated = refresh_rest(api, tokens["refresh"]).json()
    assert rotated["access"] != tokens["access"]
