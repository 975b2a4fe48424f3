"""Whatever a client sends, through either door: never a 5xx, always JSON, always a
documented code. The strategies go where fuzzers often do not: lone surrogates, NUL,
control and bidi characters, over-long strings, bytes that are not UTF-8, and
JSON nested too deep to parse, in every field, path part and header the service reads.
"""

import json
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# The codes the README documents, per door.
REST_CODES = {
    "INVALID_INPUT",
    "INVALID_PHONE_NUMBER",
    "INVALID_CREDENTIALS",
    "RATE_LIMITED",
    "token_not_valid",
    "NOT_FOUND",
    "METHOD_NOT_ALLOWED",
    "REQUEST_TOO_LARGE",
    "SMS_DELIVERY_FAILED",
    "SERVICE_UNAVAILABLE",
    "BAD_REQUEST",
    "CROSS_SITE_REQUEST",
    "CHALLENGE_REQUIRED",
}
GRAPHQL_CODES = {
    "INVALID_INPUT",
    "STEP_UP_REQUIRED",
    "PHONE_NUMBER_TAKEN",
    "INVALID_PHONE_NUMBER",
    "QUERY_TOO_COMPLEX",
    "INVALID_CREDENTIALS",
    "RATE_LIMITED",
    "INVALID_TOKEN",
    "UNAUTHENTICATED",
    "INVALID_PASSWORD",
    "SMS_DELIVERY_FAILED",
    "GRAPHQL_VALIDATION_FAILED",
    "BAD_USER_INPUT",
    "BAD_REQUEST",
    "REQUEST_TOO_LARGE",
    "SERVICE_UNAVAILABLE",
    "UNSUPPORTED_MEDIA_TYPE",
    "CROSS_SITE_REQUEST",
    "CHALLENGE_REQUIRED",
}

NASTY_CHARACTERS = st.sampled_from(
    ["\ud800", "\udfff", "\udbff", "\x00", "\x1b", "\u202e", "\ufeff", "\uffff", "\U0010ffff"]
    + ["\u200c", "۰", "٩", "+", "0", "9", " ", "%", "/", "\\", '"']
)
hostile_text = st.one_of(
    # Joined by hand: st.text() never yields a lone surrogate.
    st.lists(st.one_of(NASTY_CHARACTERS, st.characters()), max_size=40).map("".join),
    st.sampled_from([4097, 10_240, 40_000]).map(lambda n: "9" * n),
)
# What a WSGI server can hand over in a header: every character is one byte (latin-1).
header_text = st.text(st.characters(max_codepoint=255), max_size=300) | st.sampled_from(
    ["JWT", "JWT ", "Bearer \xff\xfe", "JWT a.b.c", "JWT " + "A" * 5000, "\x00"]
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | hostile_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(hostile_text, children, max_size=4)
    ),
    max_leaves=10,
)
fields = st.sampled_from(["phone_number", "password", "refresh", "token"])
bodies = st.dictionaries(fields | hostile_text, json_values, max_size=4) | json_values
REST_POSTS = [
    "/accounts/api/token/",
    "/accounts/api/token/refresh/",
    "/accounts/api/token/verify/",
    "/accounts/api/token/blacklist/",
]
paths = st.sampled_from(REST_POSTS)
raw_bodies = st.one_of(
    st.binary(max_size=200),
    st.sampled_from([b"[" * 30_000, b'{"a":' * 10_000, b'{"refresh": "\\ud800"}', b"\xed\xa0\x80"]),
)
content_types = st.sampled_from(
    ["application/json", "application/x-www-form-urlencoded", "application/graphql", "text/plain"]
)
FUZZ = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def assert_rest_answer(response) -> None:
    assert response.status_code < 500, response.content[:300]
    body = json.loads(response.content)
    if response.status_code >= 400:
        assert body["code"] in REST_CODES, body


def assert_graphql_answer(response) -> None:
    assert response.status_code < 500, response.content[:300]
    body = json.loads(response.content)
    for error in body.get("errors") or []:
        assert error["extensions"]["code"] in GRAPHQL_CODES, error


@FUZZ
@given(path=paths, body=bodies)
def test_json_bodies(api, path, body):
    response = api.client.post(path, json.dumps(body), content_type="application/json")
    assert_rest_answer(response)


@FUZZ
@given(path=paths, body=raw_bodies, content_type=content_types)
def test_raw_bodies(api, path, body, content_type):
    assert_rest_answer(api.client.post(path, body, content_type=content_type))
    assert_graphql_answer(api.client.post("/graphql", body, content_type=content_type))


def wire(text: str) -> str:
    """Percent-encoded as a client would put it on the wire: UTF-8 where it can be, and
    a lone surrogate as the (invalid) bytes a careless encoder writes for it."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


@FUZZ
@given(fields=st.dictionaries(fields, hostile_text, max_size=3))
def test_form_bodies(api, fields):
    body = "&".join(f"{wire(name)}={wire(value)}" for name, value in fields.items())
    for path in REST_POSTS:
        response = api.client.post(path, body, content_type="application/x-www-form-urlencoded")
        assert_rest_answer(response)


@FUZZ
@given(number=hostile_text | st.binary(max_size=60).map(lambda b: b.decode("latin-1")))
def test_numbers_in_the_url(api, number):
    for prefix in ("/accounts/api/status/", "/accounts/api/otp/"):
        assert_rest_answer(api.client.get(prefix + wire(number) + "/"))


@FUZZ
@given(
    authorization=header_text,
    language=header_text,
    forwarded=header_text,
    origin=header_text,
    challenge=header_text,
)
def test_headers_the_service_reads(
    api, settings, authorization, language, forwarded, origin, challenge
):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    settings.TRUSTED_PROXY_COUNT = 1
    headers = {
        "HTTP_AUTHORIZATION": authorization,
        "HTTP_ACCEPT_LANGUAGE": language,
        "HTTP_X_FORWARDED_FOR": forwarded,
        "HTTP_ORIGIN": origin,
        "HTTP_SEC_FETCH_SITE": origin,
        "HTTP_X_CHALLENGE_TOKEN": challenge,
    }
    assert_rest_answer(api.client.get("/accounts/api/status/09112223344/", **headers))
    assert_rest_answer(api.client.get("/accounts/api/otp/09112223344/", **headers))
    response = api.client.post(
        "/graphql",
        {"query": '{ me { phoneNumber } userStatus(phoneNumber: "09112223344") { exists } }'},
        content_type="application/json",
        **headers,
    )
    assert_graphql_answer(response)


MUTATIONS = {
    "userStatus": "query($a: String!) { userStatus(phoneNumber: $a) { exists } }",
    "sendOtp": "mutation($a: String!) { sendOtp(phoneNumber: $a) { sent } }",
    "tokenAuth": (
        "mutation($a: String!, $b: String!) { tokenAuth(phoneNumber: $a, password: $b) { token } }"
    ),
    "refreshToken": "mutation($a: String!) { refreshToken(refreshToken: $a) { token } }",
    "verifyToken": "mutation($a: String!) { verifyToken(token: $a) { payload } }",
    "revokeToken": "mutation($a: String!) { revokeToken(refreshToken: $a) { revoked } }",
    "revokeSession": "mutation($a: ID!) { revokeSession(id: $a) { revokedCount } }",
    "sessions": "query { sessions { id current } me { phoneNumber } }",
    "setPassword": (
        "mutation($a: String!, $b: String) { setPassword(password: $a, oldPassword: $b) { token } }"
    ),
}


@FUZZ
@given(
    operation=st.sampled_from(sorted(MUTATIONS)),
    a=json_values,
    b=json_values,
    authorization=header_text,
)
def test_graphql_variables(api, operation, a, b, authorization):
    response = api.client.post(
        "/graphql",
        json.dumps({"query": MUTATIONS[operation], "variables": {"a": a, "b": b}}),
        content_type="application/json",
        HTTP_AUTHORIZATION=authorization,
    )
    assert_graphql_answer(response)


@FUZZ
@given(value=hostile_text)
def test_graphql_variables_over_get(api, value):
    variables = json.dumps({"a": value, "b": value})
    response = api.client.get(
        "/graphql", {"query": MUTATIONS["userStatus"], "variables": variables}
    )
    assert_graphql_answer(response)


@FUZZ
@given(literal=hostile_text)
def test_graphql_documents_with_hostile_literals(api, literal):
    query = f"{{ userStatus(phoneNumber: {json.dumps(literal)}) {{ exists }} }}"
    response = api.client.post(
        "/graphql", json.dumps({"query": query}), content_type="application/json"
    )
    assert_graphql_answer(response)
