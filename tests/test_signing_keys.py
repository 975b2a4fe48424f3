"""Access tokens any service can verify: asymmetric keys with a kid, a JWKS, rotation
without logging anyone out, and every algorithm-confusion trick refused."""

import base64
import hashlib
import hmac
import json
import urllib.request
from io import StringIO
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from django.core.management import call_command
from django.test import Client

from accounts.sessions import keys
from tests.conftest import Api
from tests.helpers import PHONE

ME = "{ me { phoneNumber } }"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def write_keys(path, *algorithms):
    path.write_bytes(b"".join(keys.to_pem(keys.generate_private_key(a)) for a in algorithms))
    return path


@pytest.fixture
def asymmetric(settings, tmp_path):
    def use(algorithm):
        settings.JWT_ALGORITHM = algorithm
        settings.JWT_PRIVATE_KEYS_FILE = str(write_keys(tmp_path / "keys.pem", algorithm))
        return settings.JWT_PRIVATE_KEYS_FILE

    return use


def verify(api, token):
    return api.post("/accounts/api/token/verify/", {"token": token})


def jwks(api):
    return api.get("/.well-known/jwks.json")


@pytest.mark.parametrize("algorithm", ["ES256", "EdDSA", "RS256"])
def test_tokens_verify_with_the_published_key_alone(api, asymmetric, settings, algorithm):
    asymmetric(algorithm)
    access = api.sign_up(PHONE)["access"]
    header = jwt.get_unverified_header(access)
    assert header["alg"] == algorithm
    response = jwks(api)
    assert response.status_code == 200
    assert response["Cache-Control"] == "public, max-age=300"
    (published,) = response.json()["keys"]
    assert published["kid"] == header["kid"] == keys.thumbprint(published)
    assert published["use"] == "sig" and published["alg"] == algorithm
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(published)  # no private part
    claims = jwt.decode(
        access,
        jwt.PyJWK(published).key,
        algorithms=[algorithm],
        issuer=settings.JWT_ISSUER,
    )
    assert claims["phoneNumber"] == "+989112223344"
    assert verify(api, access).status_code == 200
    assert api.gql(ME, token=access).data["me"]["phoneNumber"] == "+989112223344"


def test_with_hs256_there_is_nothing_to_publish(api):
    response = jwks(api)
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"
    assert "HS256" in response.json()["detail"]
    access = api.sign_up(PHONE)["access"]
    assert jwt.get_unverified_header(access)["kid"].startswith("hs256-")


def test_hs256_tokens_without_a_kid_still_verify(api, settings):
    claims = jwt.decode(api.sign_up(PHONE)["access"], options={"verify_signature": False})
    older = jwt.encode(claims, settings.GRAPHQL_JWT["JWT_SECRET_KEY"], "HS256")
    assert "kid" not in jwt.get_unverified_header(older)
    assert verify(api, older).status_code == 200


def forged(real: str, public_pem: bytes, secret: str) -> dict[str, str]:
    claims = json.loads(base64.urlsafe_b64decode(real.split(".")[1] + "=="))
    kid = jwt.get_unverified_header(real)["kid"]
    body = b64(json.dumps(claims).encode())

    def hs256(key: bytes, header: dict) -> str:
        signing_input = f"{b64(json.dumps(header).encode())}.{body}"
        signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{b64(signature)}"

    other = keys.generate_private_key("ES256")
    other_kid = keys.asymmetric_key(other, "ES256").kid
    return {
        "HS256 with the shared secret": hs256(secret.encode(), {"alg": "HS256", "kid": kid}),
        "HS256 with the public key as secret": hs256(public_pem, {"alg": "HS256", "kid": kid}),
        "alg none": f"{b64(json.dumps({'alg': 'none', 'kid': kid}).encode())}.{body}.",
        "unknown kid": jwt.encode(claims, other, "ES256", headers={"kid": other_kid}),
        "known kid, other key": jwt.encode(claims, other, "ES256", headers={"kid": kid}),
        "no kid": jwt.encode(claims, other, "ES256"),
    }


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_algorithm_confusion_is_refused(api, asymmetric, settings):
    path = asymmetric("ES256")
    real = api.sign_up(PHONE)["access"]
    private = serialization.load_pem_private_key(Path(path).read_bytes(), None)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for name, token in forged(real, public_pem, settings.GRAPHQL_JWT["JWT_SECRET_KEY"]).items():
        response = verify(api, token)
        assert response.status_code == 401, name
        assert api.gql(ME, token=token).error_codes == ["INVALID_TOKEN"], name
    assert verify(api, real).status_code == 200


def test_issuer_and_audience_are_checked(api, settings):
    access = api.sign_up(PHONE)["access"]
    assert jwt.decode(access, options={"verify_signature": False})["iss"] == settings.JWT_ISSUER
    settings.JWT_ISSUER = "someone-else.example"
    assert verify(api, access).status_code == 401
    settings.JWT_ISSUER = jwt.decode(access, options={"verify_signature": False})["iss"]
    settings.JWT_AUDIENCE = "shop-api"
    assert verify(api, access).status_code == 401  # minted without an audience
    with_audience = api.login(PHONE, api.new_code(PHONE))["access"]
    assert jwt.decode(with_audience, options={"verify_signature": False})["aud"] == "shop-api"
    assert verify(api, with_audience).status_code == 200
    settings.JWT_AUDIENCE = ""
    assert verify(api, with_audience).status_code == 401


def test_rotation_keeps_every_token_valid_until_its_key_is_retired(api, asymmetric):
    path = asymmetric("EdDSA")
    before = api.sign_up(PHONE)["access"]
    call_command("jwt_keys", "rotate", "--file", path, stdout=StringIO())
    after = api.login(PHONE, api.new_code(PHONE))["access"]
    old_kid, new_kid = (jwt.get_unverified_header(t)["kid"] for t in (before, after))
    assert old_kid != new_kid
    assert [k["kid"] for k in jwks(api).json()["keys"]] == [new_kid, old_kid]
    assert verify(api, before).status_code == 200
    assert verify(api, after).status_code == 200
    call_command("jwt_keys", "retire", "--file", path, stdout=StringIO())
    assert [k["kid"] for k in jwks(api).json()["keys"]] == [new_kid]
    assert verify(api, before).status_code == 401
    assert verify(api, after).status_code == 200


def test_a_standby_key_is_published_before_it_signs(api, asymmetric):
    path = asymmetric("ES256")
    signing = jwt.get_unverified_header(api.sign_up(PHONE)["access"])["kid"]
    call_command("jwt_keys", "rotate", "--standby", "--file", path, stdout=StringIO())
    published = [k["kid"] for k in jwks(api).json()["keys"]]
    assert published[0] == signing and len(published) == 2
    still = api.login(PHONE, api.new_code(PHONE))["access"]
    assert jwt.get_unverified_header(still)["kid"] == signing
    call_command("jwt_keys", "rotate", "--promote", "--file", path, stdout=StringIO())
    promoted = api.login(PHONE, api.new_code(PHONE))["access"]
    assert jwt.get_unverified_header(promoted)["kid"] == published[1]


def test_the_signing_key_cannot_be_retired(asymmetric):
    from django.core.management.base import CommandError

    path = asymmetric("ES256")
    with pytest.raises(CommandError, match="cannot be retired"):
        call_command("jwt_keys", "retire", "--file", path, stdout=StringIO())


@pytest.mark.parametrize(
    "algorithm, contents, message",
    [
        ("ES256", None, "needs JWT_PRIVATE_KEYS_FILE"),
        ("ES256", b"not a key", "no private key"),
        ("RS256", "EdDSA", "holds a key for EdDSA"),
        ("HS512", None, "must be one of"),
    ],
)
def test_bad_key_settings_fail_the_checks(settings, tmp_path, algorithm, contents, message):
    from django.core.management.base import SystemCheckError

    settings.JWT_ALGORITHM = algorithm
    if contents is not None:
        path = tmp_path / "keys.pem"
        if isinstance(contents, bytes):
            path.write_bytes(contents)
        else:
            write_keys(path, contents)
        settings.JWT_PRIVATE_KEYS_FILE = str(path)
    with pytest.raises(SystemCheckError, match=message):
        call_command("check")


def test_jwks_answers_cross_origin_reads(api, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    response = Client().get("/.well-known/jwks.json", HTTP_ORIGIN="https://app.example.com")
    assert response["Access-Control-Allow-Origin"] == "https://app.example.com"


def test_a_key_file_that_breaks_keeps_the_last_good_keys(api, asymmetric, caplog):
    """An operator's bad edit during a rotation: tokens are still signed and verified
    with the keys last read, one ERROR is logged per state of the file, and /readyz is
    not ready until the file loads again (/healthz, the load balancer's, stays up)."""
    path = Path(asymmetric("ES256"))
    access = api.sign_up(PHONE)["access"]
    published = jwks(api).json()
    assert api.get("/readyz").status_code == 200

    def errors() -> int:
        return sum(
            "Signing keys" in r.getMessage() for r in caplog.records if r.levelname == "ERROR"
        )

    path.write_bytes(b"-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    for _ in range(3):
        assert verify(api, access).status_code == 200
        assert jwks(api).json() == published
    again = api.login(PHONE, api.new_code(PHONE))["access"]
    assert jwt.get_unverified_header(again)["kid"] == published["keys"][0]["kid"]
    assert errors() == 1
    ready = api.get("/readyz")
    assert ready.status_code == 503 and ready.json()["failing"] == ["signing_keys"]
    assert api.get("/healthz").status_code == 200

    path.write_bytes(b"another bad edit")  # a new state of the file: one more ERROR
    assert jwks(api).status_code == 200 and jwks(api).status_code == 200
    assert errors() == 2
    path.unlink()
    assert verify(api, again).status_code == 200
    assert errors() == 3

    write_keys(path, "ES256")  # fixed: the new keys are in force, and the service ready
    assert api.get("/readyz").status_code == 200
    assert jwks(api).json() != published


DISCOVERY = "/.well-known/openid-configuration"


def test_a_library_finds_the_keys_from_the_issuer_alone(
    live_server, transactional_db, asymmetric, settings
):
    """What a gateway does given only the issuer's URL: the discovery document, the
    JWKS it names, then the token checked against both."""
    asymmetric("ES256")
    settings.JWT_ISSUER = live_server.url
    access = Api(Client()).sign_up(PHONE)["access"]
    with urllib.request.urlopen(live_server.url + DISCOVERY, timeout=10) as response:
        assert response.headers["Cache-Control"] == "public, max-age=300"
        config = json.load(response)
    assert config == {
        "issuer": live_server.url,
        "jwks_uri": live_server.url + "/.well-known/jwks.json",
        "id_token_signing_alg_values_supported": ["ES256"],
    }
    signing_key = jwt.PyJWKClient(config["jwks_uri"]).get_signing_key_from_jwt(access)
    claims = jwt.decode(
        access,
        signing_key.key,
        algorithms=config["id_token_signing_alg_values_supported"],
        issuer=config["issuer"],
    )
    assert claims["phoneNumber"] == "+989112223344"


def test_discovery_names_the_keys_where_the_issuer_is_a_host_name(api, asymmetric, settings):
    asymmetric("EdDSA")
    settings.JWT_ISSUER = "auth.example.com"
    settings.ALLOWED_HOSTS = ["auth.example.com"]
    config = api.get(DISCOVERY, HTTP_HOST="auth.example.com").json()
    assert config["issuer"] == "auth.example.com"
    assert config["jwks_uri"] == "http://auth.example.com/.well-known/jwks.json"
    assert config["id_token_signing_alg_values_supported"] == ["EdDSA"]


def test_with_hs256_discovery_says_why_there_is_nothing(api):
    response = api.get(DISCOVERY)
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"
    assert "HS256" in response.json()["detail"]
    assert api.client.post(DISCOVERY).status_code == 405
