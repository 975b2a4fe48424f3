"""The OpenAPI 3.1 description of the REST compatibility URLs, served at
/accounts/api/schema/ and checked against the real responses by the tests."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from project.errors import json_response


def _error(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _ok(description: str, schema: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _body(*fields: str) -> dict:
    schema = {
        "type": "object",
        "properties": {name: {"type": "string"} for name in fields},
        "required": list(fields),
    }
    return {
        "required": True,
        "content": {
            "application/json": {"schema": schema},
            "application/x-www-form-urlencoded": {"schema": schema},
        },
    }


PHONE = {
    "name": "phone_number",
    "in": "path",
    "required": True,
    "description": "A mobile number in any common form: 09112223344, +989112223344, ۰۹۱۱…",
    "schema": {"type": "string", "pattern": "^[^/]+$"},
}
CHALLENGE_TOKEN = {
    "name": "X-Challenge-Token",
    "in": "header",
    "required": False,
    "description": "The token of a passed bot check, after a `CHALLENGE_REQUIRED` answer "
    "(whose `provider` and `site_key` say which widget to show). Each token is good once.",
    "schema": {"type": "string"},
}
COMMON = {
    "403": _error("`CROSS_SITE_REQUEST`: another site's page made a browser send this request."),
    "413": _error("The body is larger than MAX_REQUEST_BODY_BYTES."),
    "429": _error("A limit was reached; `retry_after` and the Retry-After header say when."),
    "503": _error("The database or Redis is unavailable (`SERVICE_UNAVAILABLE`)."),
}
SEND = {
    "tags": ["codes"],
    "summary": "Text a one-time code to the number",
    "parameters": [PHONE, CHALLENGE_TOKEN],
    "responses": {
        "200": _ok("The code was handed to the SMS provider.", "Sent"),
        "400": _error("`INVALID_PHONE_NUMBER`: not a mobile number in an allowed region."),
        "404": _error("Not a URL of this API."),
        **COMMON,
        "403": _error(
            "`CHALLENGE_REQUIRED`: pass the bot check `provider` names (with `site_key`) and "
            "send again with its token in X-Challenge-Token; or `CROSS_SITE_REQUEST`."
        ),
        "503": _error("`SMS_DELIVERY_FAILED` or `SERVICE_UNAVAILABLE`; nothing was charged."),
    },
}

STRING, INTEGER, BOOLEAN = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}


def _object(optional: tuple[str, ...] = (), **properties: dict) -> dict:
    """A JSON object schema with these properties, all required but the `optional`."""
    required = [name for name in properties if name not in optional]
    return {"type": "object", "properties": properties, "required": required}


DOCUMENT = {
    "openapi": "3.1.0",
    "info": {
        "title": "Accounts: REST compatibility URLs",
        "version": "1",
        "description": "Sign-up and login with a mobile number and SMS codes. The GraphQL "
        "API at /graphql offers the same and more.",
    },
    "paths": {
        "/accounts/api/status/{phone_number}/": {
            "get": {
                "tags": ["status"],
                "summary": "Whether the number has an account, and whether it has a password",
                "parameters": [PHONE],
                "responses": {
                    "200": _ok("The account exists.", "Status"),
                    "400": _error("`INVALID_PHONE_NUMBER`."),
                    "404": _error("No account has this number (`NOT_FOUND`)."),
                    **COMMON,
                },
            }
        },
        "/accounts/api/otp/{phone_number}/": {"get": SEND, "post": SEND},
        "/accounts/api/token/": {
            "post": {
                "tags": ["tokens"],
                "summary": "Log in with a one-time code or a fixed password",
                "requestBody": _body("phone_number", "password"),
                "responses": {
                    "200": _ok(
                        "Logged in; `created` is true when this created the account.", "Tokens"
                    ),
                    "400": _error("`INVALID_INPUT` or `INVALID_PHONE_NUMBER`."),
                    "401": _error("`INVALID_CREDENTIALS`."),
                    **COMMON,
                },
            }
        },
        "/accounts/api/token/refresh/": {
            "post": {
                "tags": ["tokens"],
                "summary": "Trade a refresh token for a new pair (the old one dies)",
                "requestBody": _body("refresh"),
                "responses": {
                    "200": _ok("A new pair.", "Refreshed"),
                    "400": _error("`INVALID_INPUT`."),
                    "401": _error("`token_not_valid`."),
                    **COMMON,
                },
            }
        },
        "/accounts/api/token/verify/": {
            "post": {
                "tags": ["tokens"],
                "summary": "Check an access token",
                "requestBody": _body("token"),
                "responses": {
                    "200": _ok("The token is valid.", "Empty"),
                    "400": _error("`INVALID_INPUT`."),
                    "401": _error("`token_not_valid`."),
                    **COMMON,
                },
            }
        },
        "/accounts/api/token/blacklist/": {
            "post": {
                "tags": ["tokens"],
                "summary": "Log out: end the session of a refresh token",
                "requestBody": _body("refresh"),
                "responses": {
                    "200": _ok("The session has ended.", "Empty"),
                    "400": _error("`INVALID_INPUT`."),
                    "401": _error("`token_not_valid`: no live session for the token."),
                    **COMMON,
                },
            }
        },
    },
    "components": {
        "schemas": {
            "Error": _object(
                detail=STRING,
                code=STRING,
                retry_after={"type": "integer", "minimum": 1},
                provider=STRING,
                site_key=STRING,
                optional=("retry_after", "provider", "site_key"),
            ),
            "Status": _object(password=BOOLEAN),
            "Sent": _object(details={"const": "otp sent"}, expires_in=INTEGER, retry_after=INTEGER),
            "Tokens": _object(refresh=STRING, access=STRING, created=BOOLEAN),
            "Refreshed": _object(refresh=STRING, access=STRING),
            "Empty": {"type": "object", "maxProperties": 0},
        }
    },
}


@require_GET
def schema(request: HttpRequest) -> JsonResponse:
    return json_response(DOCUMENT)
