"""A hostile or careless client, finding by finding: every answer is a clean refusal with
a documented code, nothing is logged as an error, and nothing about the schema leaks."""

import json
import logging

import jwt
import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from tests.conftest import SEND_OTP
from tests.helpers import PHONE

ME = "{ me { phoneNumber } }"
SET_PASSWORD = "mutation($p: String!) { setPassword(password: $p) { success } }"


def post_raw(api, path: str, body: str | bytes, **headers):
    headers.setdefault("HTTP_ACCEPT_LANGUAGE", "en")
    return api.client.post(path, body, content_type="application/json", **headers)


# --- lone surrogates, NUL and deep nesting are refused where the doors read them ------


@pytest.mark.parametrize(
    "path, body",
    [
        ("/accounts/api/token/refresh/", '{"refresh": "\\ud800"}'),
        ("/accounts/api/token/verify/", '{"token": "\\ud800"}'),
        ("/accounts/api/token/", '{"phone_number": "09112223344", "password": "\\udfff"}'),
        ("/accounts/api/token/", '{"phone_number": "\\ud800", "password": "x"}'),
        ("/accounts/api/token/verify/", '{"\\ud800": 1, "token": "abc"}'),
    ],
)
def test_rest_bodies_with_unencodable_text_are_invalid_input(api, path, body):
    response = post_raw(api, path, body)
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_INPUT"


def test_nul_is_refused_by_each_fields_own_rule(api):
    api.sign_up(PHONE)
    cases = [
        ("/accounts/api/token/", "phone_number=0911%002223344&password=x", 400),
        ("/accounts/api/token/", "phone_number=09112223344&password=a%00b", 401),
        ("/accounts/api/token/refresh/", "refresh=a%00b", 401),
        ("/accounts/api/token/verify/", "token=a%00b", 401),
    ]
    for path, body, status in cases:
        response = api.client.post(path, body, content_type="application/x-www-form-urlencoded")
        assert response.status_code == status, (path, body)
        assert response.json()["code"] in (
            "INVALID_PHONE_NUMBER",
            "INVALID_CREDENTIALS",
            "token_not_valid",
        )


@pytest.mark.parametrize(
    "body",
    [
        '{"query": "mutation($t: String!) { verifyToken(token: $t) { payload { sub } } }",'
        ' "variables": {"t": "\\ud800"}}',
        '{"query": "{ userStatus(phoneNumber: \\"\\ud800\\") { exists } }"}',
        '{"query": "{ me { phoneNumber } }", "operationName": "\\udc00"}',
    ],
)
def test_graphql_requests_with_unencodable_text_are_invalid_input(api, body):
    response = post_raw(api, "/graphql", body)
    assert response.status_code == 400
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["INVALID_INPUT"]


def test_graphql_variables_with_surrogates_over_get_are_invalid_input(api):
    response = api.client.get(
        "/graphql",
        {
            "query": "query($p: String!) { userStatus(phoneNumber: $p) { exists } }",
            "variables": '{"p": "\\ud800"}',
        },
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


@pytest.mark.parametrize("path", ["/accounts/api/token/", "/graphql"])
def test_json_nested_too_deep_is_refused_not_a_crash(api, path):
    response = post_raw(api, path, "[" * 30_000)
    assert response.status_code == 400
    assert "nested too deeply" in response.content.decode()


@pytest.mark.parametrize(
    "part", ["%ED%A0%80", "%C0%AF", "%FF%FE", "%00", "..%2F..%2Fetc", "%2509", "9" * 3000]
)
def test_odd_path_parts_are_invalid_numbers(api, part):
    for prefix in ("/accounts/api/status/", "/accounts/api/otp/"):
        response = api.client.get(f"{prefix}{part}/")
        assert response.status_code in (400, 404)
        assert response.json()["code"] in ("INVALID_PHONE_NUMBER", "NOT_FOUND")


def test_non_ascii_authorization_header_is_an_invalid_token(api):
    assert api.gql(ME, HTTP_AUTHORIZATION="JWT \xff\xfe.\xe9").error_codes == ["INVALID_TOKEN"]


# --- refusals say what is wrong --------------------------------------------------------


def test_an_over_long_new_password_names_the_limit(api):
    access = api.sign_up(PHONE)["access"]
    result = api.gql(SET_PASSWORD, {"p": "x" * 10_240}, token=access, HTTP_ACCEPT_LANGUAGE="en")
    assert result.error_codes == ["INVALID_PASSWORD"]
    assert result.errors[0]["extensions"]["messages"] == [
        "This password is too long. It must contain at most 4096 characters."
    ]
    persian = api.gql(SET_PASSWORD, {"p": "x" * 10_240}, token=access, HTTP_ACCEPT_LANGUAGE="fa")
    assert (
        "۴۰۹۶" in persian.errors[0]["extensions"]["messages"][0]
        or "4096" in (persian.errors[0]["extensions"]["messages"][0])
    )
    assert "too long" not in persian.errors[0]["message"]


# --- GraphQL: a client's slip is a client error, never INTERNAL_ERROR -----------------


@pytest.mark.parametrize("value", [9121234567, {"n": "0912"}, ["09112223344"], True, 1.5])
def test_a_variable_of_the_wrong_json_type_is_bad_user_input(api, caplog, value):
    caplog.set_level(logging.INFO)
    result = api.gql(SEND_OTP, {"phone": value})
    assert result.status == 400
    assert result.error_codes == ["BAD_USER_INPUT"]
    assert "cannot represent" in result.errors[0]["message"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_missing_variable_and_an_unknown_operation_are_bad_user_input(api, caplog):
    caplog.set_level(logging.INFO)
    assert api.gql(SEND_OTP, {}).error_codes == ["BAD_USER_INPUT"]
    response = api.client.post(
        "/graphql",
        json.dumps({"query": "query A { me { phoneNumber } }", "operationName": "B"}),
        content_type="application/json",
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    two = api.gql("query A { me { phoneNumber } } query B { me { phoneNumber } }")
    assert two.error_codes == ["BAD_USER_INPUT"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize(
    "document",
    [
        '{ userStatu(phoneNumber: "1") { exists } }',
        '{ userStatus(phoneNumbr: "1") { exists } }',
        '{ userStatus(phoneNumber: "1") { exist } }',
        "query($p: Strin!) { userStatus(phoneNumber: $p) { exists } }",
        'mutation { sendOt(phoneNumber: "1") { sent } }',
    ],
)
def test_no_suggestions_when_introspection_is_off(api, settings, document):
    settings.GRAPHQL_INTROSPECTION = False
    closed = api.gql(document)
    assert closed.error_codes and set(closed.error_codes) == {"GRAPHQL_VALIDATION_FAILED"}
    assert not any("Did you mean" in e["message"] for e in closed.errors)
    settings.GRAPHQL_INTROSPECTION = True
    assert any("Did you mean" in e["message"] for e in api.gql(document).errors)


# --- Host header, cookies, token types -------------------------------------------------


def test_a_foreign_host_header_is_a_json_400_without_an_error_log(api, caplog):
    caplog.set_level(logging.INFO)
    rest = api.client.get("/accounts/api/status/09112223344/", HTTP_HOST="evil.example")
    assert rest.status_code == 400
    assert rest.json()["code"] == "BAD_REQUEST"
    graphql = api.client.post(
        "/graphql", {"query": ME}, content_type="application/json", HTTP_HOST="evil.example"
    )
    assert graphql.status_code == 400
    assert graphql.json() == {
        "errors": [
            {
                "message": graphql.json()["errors"][0]["message"],
                "extensions": {"code": "BAD_REQUEST"},
            }
        ]
    }
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_the_admins_session_cookie_is_no_credential_at_graphql(api):
    staff = get_user_model().objects.create_superuser("09350001122", "an admin passphrase 42")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff)
    me = browser.post("/graphql", {"query": ME}, content_type="application/json")
    assert me.json() == {"data": {"me": None}}
    forged = browser.post(
        "/graphql",
        {"query": SET_PASSWORD, "variables": {"p": "a brand new passphrase"}},
        content_type="application/json",
    )
    assert forged.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "Set-Cookie" not in forged.headers or "sessionid" not in forged.headers["Set-Cookie"]


def test_tokens_of_one_kind_do_not_pass_as_the_other(api):
    tokens = api.sign_up(PHONE)
    assert api.gql(ME, token=tokens["refresh"]).error_codes == ["INVALID_TOKEN"]
    verify = api.post("/accounts/api/token/verify/", {"token": tokens["refresh"]})
    assert verify.json()["code"] == "token_not_valid"
    refresh = api.post("/accounts/api/token/refresh/", {"refresh": tokens["access"]})
    assert refresh.json()["code"] == "token_not_valid"


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_a_token_without_an_expiry_is_refused(api, settings):
    claims = jwt.decode(api.sign_up(PHONE)["access"], options={"verify_signature": False})
    del claims["exp"]
    forever = jwt.encode(claims, settings.GRAPHQL_JWT["JWT_SECRET_KEY"], "HS256")
    assert api.gql(ME, token=forever).error_codes == ["INVALID_TOKEN"]


# --- forms Django cannot read ---------------------------------------------------------


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded; charset=utf-16",
        "application/x-www-form-urlencoded; charset=utf-7",
        "multipart/form-data; boundary=xx",
        "multipart/form-data",
    ],
)
def test_unreadable_forms_are_clean_400s_with_debug_on_or_off(api, settings, debug, content_type):
    settings.DEBUG = debug
    client = Client(raise_request_exception=False, HTTP_ACCEPT_LANGUAGE="en")
    body = b"--xx\r\nbroken" if "boundary" in content_type else b"phone_number=0911&password=x"
    rest = client.generic("POST", "/accounts/api/token/", body, content_type=content_type)
    assert rest.status_code == 400
    assert rest.json()["code"] in ("INVALID_INPUT", "BAD_REQUEST")
    # /graphql reads no form at all (see test_cross_site.py).
    graphql = client.generic("POST", "/graphql", body, content_type=content_type)
    assert graphql.status_code == 415
    assert graphql.json()["errors"][0]["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        b"\xff\xfe",
        "[1, 2]",
        '{"query": 5}',
        '{"query": "{ me { phoneNumber } }", "variables": 5}',
    ],
)
def test_a_malformed_body_is_the_same_invalid_input_on_both_doors_in_persian(api, body):
    """One catalogue: the same code on both doors, the message in the request's language,
    and REST's JSON written as UTF-8 (Persian reads as Persian, not as escapes)."""
    rest = post_raw(api, "/accounts/api/token/", body, HTTP_ACCEPT_LANGUAGE="fa")
    graphql = post_raw(api, "/graphql", body, HTTP_ACCEPT_LANGUAGE="fa")
    assert rest.status_code == graphql.status_code == 400
    error = graphql.json()["errors"][0]
    assert rest.json()["code"] == error["extensions"]["code"] == "INVALID_INPUT"
    for message in (rest.json()["detail"], error["message"]):
        assert any("\u0600" <= character <= "\u06ff" for character in message), message
    assert b"\\u" not in rest.content and rest.json()["detail"].encode() in rest.content
