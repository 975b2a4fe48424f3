"""The GraphQL door: a self-documenting schema and clean errors for any input."""

import json

import pytest

from schema import schema

OUR_TYPES = [
    "Query",
    "Mutation",
    "UserStatus",
    "User",
    "SendOtpPayload",
    "TokenAuthPayload",
    "RefreshTokenPayload",
    "VerifyTokenPayload",
    "RevokeTokenPayload",
    "SetPasswordPayload",
    "RevokeSessionPayload",
    "RevokeOtherSessionsPayload",
    "Session",
    "SessionMethod",
    "TokenPayload",
]


def test_every_type_field_and_argument_is_described():
    graphql_schema = schema.graphql_schema
    missing = []
    for type_name in OUR_TYPES:
        graphql_type = graphql_schema.get_type(type_name)
        if type_name not in ("Query", "Mutation") and not graphql_type.description:
            missing.append(type_name)
        for value_name, value in getattr(graphql_type, "values", {}).items():
            if not value.description:
                missing.append(f"{type_name}.{value_name}")
        for field_name, field in getattr(graphql_type, "fields", {}).items():
            if not field.description:
                missing.append(f"{type_name}.{field_name}")
            for arg_name, arg in field.args.items():
                if not arg.description:
                    missing.append(f"{type_name}.{field_name}({arg_name})")
    assert missing == []


def test_schema_has_the_documented_operations():
    graphql_schema = schema.graphql_schema
    assert set(graphql_schema.query_type.fields) == {"userStatus", "me", "sessions"}
    assert set(graphql_schema.mutation_type.fields) == {
        "sendOtp",
        "tokenAuth",
        "refreshToken",
        "verifyToken",
        "revokeToken",
        "setPassword",
        "revokeSession",
        "revokeOtherSessions",
        "removePassword",
        "changePhoneNumber",
        "deleteAccount",
    }


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"[]", "application/json"),
        (b'{"query": 5}', "application/json"),
        (b'{"query": ["{ me { phoneNumber } }"]}', "application/json"),
        (b'{"query": "{ me { phoneNumber } }", "variables": [1]}', "application/json"),
        (b'{"query": "{ me { phoneNumber } }", "variables": "not json"}', "application/json"),
        (b'{"query": "{ me { phoneNumber } }", "operationName": 7}', "application/json"),
        (b"\xff\xfe{", "application/graphql"),
        (b"\xff\xfe{", "application/json"),
        (b"{ nope }", "application/graphql"),
        (b'{"query": "{"}', "application/json"),
        (b'{"query": "mutation { sendOtp(phoneNumber: 5) { sent } }"}', "application/json"),
        (b"", "application/json"),
    ],
)
def test_bad_requests_are_4xx_never_5xx(api, content, content_type):
    response = api.client.post("/graphql", content, content_type=content_type)
    assert 400 <= response.status_code < 500
    body = response.json()
    assert body["errors"][0]["message"]
    assert "Traceback" not in json.dumps(body)


def test_variable_of_wrong_type_is_a_clean_error(api):
    result = api.gql(
        "mutation($p: String!) { sendOtp(phoneNumber: $p) { sent } }", {"p": {"nested": [1]}}
    )
    assert result.status == 400
    assert result.errors


def test_mutations_are_refused_over_get(api):
    response = api.get(
        "/graphql",
        QUERY_STRING="query=mutation%7BsendOtp(phoneNumber:%2209112223344%22)%7Bsent%7D%7D",
    )
    assert response.status_code == 405
