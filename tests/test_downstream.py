"""Another backend service checks this service's access tokens with PyJWT's PyJWKClient
and the published JWKS alone, through a key rotation, against a real gunicorn server."""

from __future__ import annotations

import jwt
import pytest

from accounts.sessions import keys
from tests.helpers import E164, PHONE
from tests.servers import codes_sent, manage, running_server

pytestmark = pytest.mark.processes


ISSUER = "auth.example.com"


@pytest.fixture
def signing_server(tmp_path):
    key_file = tmp_path / "jwt-keys.pem"
    key_file.write_bytes(keys.to_pem(keys.generate_private_key("ES256")))
    with running_server(
        tmp_path,
        workers=2,
        JWT_ALGORITHM="ES256",
        JWT_PRIVATE_KEYS_FILE=str(key_file),
        JWT_ISSUER=ISSUER,
        OTP_RESEND_COOLDOWN="0",
    ) as server:
        yield server, server.env, key_file, server.sms_dir


def access_token(server, sms_dir) -> str:
    assert server.get(f"/accounts/api/otp/{PHONE}/")[0] == 200
    code = codes_sent(sms_dir, E164)[-1]
    status, body, _ = server.post("/accounts/api/token/", {"phone_number": PHONE, "password": code})
    assert status == 200
    return body["access"]


def downstream_verify(jwks_url: str, token: str) -> dict:
    """What another service runs: the README's snippet, with a client as fresh as a
    JWKS cache that has turned over."""
    jwks = jwt.PyJWKClient(jwks_url)
    signing_key = jwks.get_signing_key_from_jwt(token)
    return jwt.decode(
        token,
        signing_key.key,
        algorithms=["ES256"],
        issuer=ISSUER,
        options={"require": ["exp", "iat", "sub", "iss"]},
    )


def test_another_service_verifies_tokens_through_a_rotation(signing_server):
    server, env, key_file, sms_dir = signing_server
    jwks_url = f"{server.url}/.well-known/jwks.json"

    first = access_token(server, sms_dir)
    assert downstream_verify(jwks_url, first)["phoneNumber"] == E164

    manage(env, "jwt_keys", "rotate", "--file", str(key_file))
    second = access_token(server, sms_dir)
    assert jwt.get_unverified_header(second)["kid"] != jwt.get_unverified_header(first)["kid"]
    # Both keys verify, here and at the service itself: nobody was logged out.
    assert downstream_verify(jwks_url, first)["phoneNumber"] == E164
    assert downstream_verify(jwks_url, second)["phoneNumber"] == E164
    assert server.post("/accounts/api/token/verify/", {"token": first})[0] == 200

    manage(env, "jwt_keys", "retire", "--file", str(key_file))
    with pytest.raises(jwt.PyJWKClientError):
        downstream_verify(jwks_url, first)
    assert server.post("/accounts/api/token/verify/", {"token": first})[0] == 401
    assert downstream_verify(jwks_url, second)["phoneNumber"] == E164
