"""What a browser app on another origin, or a code generator, needs: CORS on every
answer of the API's URLs, a committed SDL, GraphQL-shaped errors, no cookies."""

import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from graphql import print_schema

from schema import schema
from tests.conftest import SEND_OTP
from tests.helpers import PHONE

APP = "https://app.example.com"
ROOT = Path(__file__).resolve().parent.parent
SCHEMA_COMMAND = "python manage.py graphql_schema --schema schema.schema --out schema.graphql"


@pytest.fixture
def cors(settings):
    settings.CORS_ALLOWED_ORIGINS = [APP]
    return settings


def preflight(api, path, origin=APP, headers="authorization, content-type, accept-language"):
    return api.client.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS=headers,
    )


@pytest.mark.parametrize(
    "path",
    [
        "/graphql",
        "/accounts/api/token/",
        "/accounts/api/token/refresh/",
        "/accounts/api/token/verify/",
        "/accounts/api/token/blacklist/",
        "/accounts/api/otp/09112223344/",
        "/accounts/api/status/09112223344/",
    ],
)
def test_preflight_allows_the_listed_origin(api, cors, path):
    response = preflight(api, path)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == APP
    allowed = {h.strip() for h in response["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "accept-language"} <= allowed
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Credentials" not in response


def test_other_origins_get_no_cors_headers(api, cors):
    for origin in ("https://evil.example", "null", "https://app.example.com.evil.example"):
        response = preflight(api, "/graphql", origin=origin)
        assert "Access-Control-Allow-Origin" not in response
        answer = api.client.post(
            "/graphql",
            {"query": "{ __typename }"},
            content_type="application/json",
            HTTP_ORIGIN=origin,
        )
        assert "Access-Control-Allow-Origin" not in answer


def test_no_cross_origin_access_by_default(api):
    response = preflight(api, "/graphql")
    assert "Access-Control-Allow-Origin" not in response


def test_the_admin_and_probes_are_not_cross_origin(api, cors):
    for path in ("/admin/login/", "/healthz", "/livez"):
        response = api.client.get(path, HTTP_ORIGIN=APP)
        assert "Access-Control-Allow-Origin" not in response, path


def _cors_headers(response):
    assert response["Access-Control-Allow-Origin"] == APP
    exposed = {h.strip().lower() for h in response["Access-Control-Expose-Headers"].split(",")}
    assert {"retry-after", "x-request-id", "content-language"} <= exposed


def test_refusals_carry_the_cors_headers_too(api, cors, settings):
    settings.OTP_SENDS_PER_IP_PER_HOUR = 1
    origin = {"HTTP_ORIGIN": APP}
    bad = api.client.post("/accounts/api/token/", "{", content_type="application/json", **origin)
    assert bad.status_code == 400
    _cors_headers(bad)
    big = api.client.post(
        "/graphql",
        "x" * (settings.MAX_REQUEST_BODY_BYTES + 1),
        content_type="application/json",
        **origin,
    )
    assert big.status_code == 413
    _cors_headers(big)
    assert api.client.get(f"/accounts/api/otp/{PHONE}/", **origin).status_code == 200
    limited = api.client.get("/accounts/api/otp/09120000000/", **origin)
    assert limited.status_code == 429
    _cors_headers(limited)
    assert int(limited["Retry-After"]) > 0


def test_a_failing_provider_503_carries_the_cors_headers(api, cors, settings):
    settings.SMS_BACKEND = "tests.test_otp.ExplodingBackend"
    response = api.client.get(f"/accounts/api/otp/{PHONE}/", HTTP_ORIGIN=APP)
    assert response.status_code == 503
    _cors_headers(response)


@pytest.mark.parametrize(
    "origins",
    ["app.example.com", "https://app.example.com/", "*", "null", "https://app.example.com/x"],
)
def test_a_malformed_origin_fails_the_checks(settings, origins):
    settings.CORS_ALLOWED_ORIGINS = [origins]
    with pytest.raises(SystemCheckError, match="CORS_ALLOWED_ORIGINS"):
        call_command("check")


# --- the GraphQL contract --------------------------------------------------------------


def test_the_committed_sdl_is_the_schema():
    committed = (ROOT / "schema.graphql").read_text(encoding="utf-8")
    assert committed == print_schema(schema.graphql_schema), (
        f"schema.graphql is out of date; refresh it with: {SCHEMA_COMMAND} (or make schema)"
    )


def test_the_token_payload_is_typed(api):
    tokens = api.sign_up(PHONE)
    result = api.gql(
        "mutation($t: String!) { verifyToken(token: $t) { payload "
        "{ sub phoneNumber sid iat exp origIat jti iss aud } } }",
        {"t": tokens["access"]},
    )
    payload = result.data["verifyToken"]["payload"]
    assert payload["phoneNumber"] == "+989112223344"
    assert payload["exp"] - payload["iat"] == 300
    assert payload["sid"] and payload["jti"] and payload["aud"] is None


def test_a_body_over_the_cap_is_a_graphql_error(api, settings):
    body = json.dumps({"query": "{ __typename }", "pad": "x" * settings.MAX_REQUEST_BODY_BYTES})
    response = api.client.post(
        "/graphql", body, content_type="application/json", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 413
    assert response.json() == {
        "errors": [
            {
                "message": "The request body is too large.",
                "extensions": {"code": "REQUEST_TOO_LARGE"},
            }
        ]
    }


def test_rate_limited_graphql_answers_carry_retry_after(api, settings):
    settings.OTP_SENDS_PER_IP_PER_HOUR = 1
    assert api.gql(SEND_OTP, {"phone": PHONE}).errors == []
    response = api.client.post(
        "/graphql",
        json.dumps({"query": SEND_OTP, "variables": {"phone": "09120000000"}}),
        content_type="application/json",
    )
    assert response.status_code == 200
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert response["Retry-After"] == str(error["extensions"]["retryAfter"])


def test_graphql_answers_set_no_cookie(api, settings):
    settings.GRAPHIQL_ENABLED = True
    answers = [
        api.client.post("/graphql", {"query": "{ __typename }"}, content_type="application/json"),
        api.client.get("/graphql", {"query": "{ __typename }"}),
        api.client.get("/graphql", HTTP_ACCEPT="text/html"),
    ]
    for answer in answers:
        assert answer.status_code == 200
        assert not answer.cookies, answer.cookies
        assert "Set-Cookie" not in answer.headers


# --- lean API requests -----------------------------------------------------------------


def call_wsgi(application, path: str, method: str = "GET", **headers) -> tuple[str, dict]:
    """One request through the real WSGI application, in this process."""
    from wsgiref.util import setup_testing_defaults

    environ = {"PATH_INFO": path, "REQUEST_METHOD": method, "HTTP_HOST": "127.0.0.1", **headers}
    setup_testing_defaults(environ)
    answer = {}

    def start_response(status, response_headers, exc_info=None):
        answer["status"], answer["headers"] = status, dict(response_headers)

    answer["body"] = b"".join(application(environ, start_response))
    return answer["status"], answer["headers"], answer["body"]


def test_api_requests_skip_the_admins_middleware(in_process_wsgi):
    status, headers, _ = call_wsgi(in_process_wsgi, "/livez")
    assert status.startswith("200") and "X-Frame-Options" not in headers
    status, headers, _ = call_wsgi(in_process_wsgi, "/accounts/api/status/09112223344/")
    assert status.startswith("404") and "X-Frame-Options" not in headers
    assert "X-Request-ID" in headers  # what the API does use is still there
    status, headers, _ = call_wsgi(in_process_wsgi, "/admin/login/")
    assert status.startswith("200") and headers["X-Frame-Options"] == "DENY"
    assert "csrftoken" in headers.get("Set-Cookie", "")


def test_the_api_checks_the_host_against_the_allowed_hosts_of_the_moment(in_process_wsgi, settings):
    status, _, body = call_wsgi(in_process_wsgi, "/livez", HTTP_HOST="evil.example")
    assert status.startswith("400") and json.loads(body)["code"] == "BAD_REQUEST"
    assert call_wsgi(in_process_wsgi, "/livez", HTTP_HOST="localhost")[0].startswith("200")
    # A host that passed before is checked again once the setting changes.
    settings.ALLOWED_HOSTS = ["api.example.com"]
    assert call_wsgi(in_process_wsgi, "/livez", HTTP_HOST="localhost")[0].startswith("400")
    assert call_wsgi(in_process_wsgi, "/livez", HTTP_HOST="api.example.com")[0].startswith("200")


@pytest.mark.parametrize(
    ("accept_language", "language", "detail"),
    [
        ("en-US,en;q=0.9", "en", "Enter a valid mobile number."),
        ("fa-IR", "fa", "یک شمارهٔ موبایل معتبر وارد کنید."),
        ("de, *;q=0.5", "fa", "یک شمارهٔ موبایل معتبر وارد کنید."),
        ("\xff" * 600, "fa", "یک شمارهٔ موبایل معتبر وارد کنید."),
    ],
)
def test_the_api_speaks_the_accept_language_and_reads_no_language_cookie(
    in_process_wsgi, accept_language, language, detail
):
    status, headers, body = call_wsgi(
        in_process_wsgi,
        "/accounts/api/otp/not-a-number/",
        HTTP_ACCEPT_LANGUAGE=accept_language,
        HTTP_COOKIE="django_language=en",
    )
    assert status.startswith("400")
    assert headers["Content-Language"] == language and "Accept-Language" in headers["Vary"]
    assert json.loads(body)["detail"] == detail
