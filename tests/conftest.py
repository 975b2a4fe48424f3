from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.test import Client
from django.test.client import ClientHandler

from accounts.codes import sms


def pytest_sessionstart(session):
    """The services leg must reach its Redis; fail at once, and say so, when it cannot."""
    url = os.environ.get("REDIS_URL")
    if url:
        import redis

        try:
            redis.Redis.from_url(url, socket_connect_timeout=2).ping()
        except redis.RedisError as error:
            pytest.exit(f"REDIS_URL={url} is unreachable: {error}", returncode=1)


@pytest.fixture(autouse=True)
def _empty_outbox():
    sms.outbox.clear()
    yield
    sms.outbox.clear()


@pytest.fixture(autouse=True)
def _empty_redis():
    """Redis is not rolled back with the test database: start every test clean."""
    if settings.REDIS_URL:
        from project import redis_client

        redis_client.client().flushdb()


@dataclass
class GraphQLResult:
    status: int
    body: dict

    @property
    def data(self) -> dict | None:
        return self.body.get("data")

    @property
    def errors(self) -> list[dict]:
        return self.body.get("errors") or []

    @property
    def error_codes(self) -> list[str]:
        return [e.get("extensions", {}).get("code") for e in self.errors]


class Api:
    """Talks to the service the way a client does: GraphQL or REST over HTTP."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def gql(self, query: str, variables: dict | None = None, token: str | None = None, **headers):
        if token:
            headers["HTTP_AUTHORIZATION"] = f"JWT {token}"
        response = self.client.post(
            "/graphql",
            json.dumps({"query": query, "variables": variables or {}}),
            content_type="application/json",
            **headers,
        )
        return GraphQLResult(response.status_code, response.json())

    def get(self, path: str, **headers):
        return self.client.get(path, **headers)

    def post(self, path: str, data: dict | None = None, **headers):
        return self.client.post(
            path, json.dumps(data or {}), content_type="application/json", **headers
        )

    def post_form(self, path: str, data: dict):
        return self.client.post(path, data)

    # --- scenario steps -------------------------------------------------------------

    def send_code(self, phone: str) -> str:
        before = len(sms.outbox)
        response = self.get(f"/accounts/api/otp/{phone}/")
        assert response.status_code == 200, response.content
        assert len(sms.outbox) == before + 1
        return last_code()

    def login(self, phone: str, password: str) -> dict:
        response = self.post("/accounts/api/token/", {"phone_number": phone, "password": password})
        assert response.status_code == 200, response.content
        return response.json()

    def new_code(self, phone: str) -> str:
        """A fresh code, as if the cooldown of earlier ones had passed."""
        from accounts.identity.phone import normalize_phone
        from accounts.models import OTPChallenge

        OTPChallenge.objects.filter(phone_number=normalize_phone(phone)).delete()
        return self.send_code(phone)

    def sign_up(self, phone: str = "09112223344") -> dict:
        return self.login(phone, self.send_code(phone))

    def set_password(self, token: str, password: str, phone: str = "09112223344") -> dict:
        """setPassword as a client does it: a fresh code to the number, then the mutation
        with it (the proof a first password takes)."""
        variables = {"p": password, "code": self.new_code(phone)}
        result = self.gql(SET_PASSWORD_WITH_CODE, variables, token=token)
        assert result.data and result.data["setPassword"], result.body
        return result.data["setPassword"]


def last_code() -> str:
    body = sms.outbox[-1].body
    runs = re.findall(rf"(?<!\d)\d{{{settings.OTP_LENGTH}}}(?!\d)", body)
    assert len(runs) == 1, body
    return runs[0]


@pytest.fixture
def in_process_wsgi(db):
    """Serve through the WSGI app in this process, on the test database: as Django's
    test client does, keep the app from closing the test's connection after a request."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    from project.wsgi import application

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield application
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


class ProductionChainHandler(ClientHandler):
    """Django's test handler with the middleware production runs (project/wsgi.py): an
    API path goes through API_MIDDLEWARE, the lean chain gunicorn serves it with, every
    other path through MIDDLEWARE; forwarding headers from an untrusted peer are dropped
    first, as the WSGI app drops them."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.api = ClientHandler(*args, **kwargs)

    def __call__(self, environ):
        from accounts.abuse.networks import strip_untrusted_forwarding
        from project.routes import API_PATHS, API_PREFIXES

        strip_untrusted_forwarding(environ)
        path = environ.get("PATH_INFO", "")
        if not (path in API_PATHS or path.startswith(API_PREFIXES)):
            return super().__call__(environ)
        if self.api._middleware_chain is None:
            full = settings.MIDDLEWARE
            settings.MIDDLEWARE = settings.API_MIDDLEWARE
            try:
                self.api.load_middleware()
            finally:
                settings.MIDDLEWARE = full
        return self.api(environ)


class ProductionChainClient(Client):
    """Django's test client, through the middleware chains production runs."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.handler = ProductionChainHandler(self.handler.enforce_csrf_checks)


@pytest.fixture
def api(db) -> Api:
    return Api(ProductionChainClient())


SET_PASSWORD_WITH_CODE = """
mutation($p: String!, $code: String) {
  setPassword(password: $p, code: $code) { success token refreshToken }
}
"""
TOKEN_AUTH = """
mutation Login($phone: String!, $password: String!) {
  tokenAuth(phoneNumber: $phone, password: $password) {
    token refreshToken payload { sub phoneNumber sid iat exp } refreshExpiresIn created
    user { phoneNumber hasPassword }
  }
}
"""
SEND_OTP = """
mutation Send($phone: String!) { sendOtp(phoneNumber: $phone) { sent expiresIn retryAfter } }
"""


@pytest.fixture(params=["rest", "graphql"])
def door(request, in_process_wsgi):
    """Each client-facing door in turn, through the production WSGI application, so one
    test body checks both (see tests/doors.py)."""
    from tests.doors import GraphQLDoor, ProductionClient, RestDoor

    client = ProductionClient(in_process_wsgi)
    return RestDoor(client) if request.param == "rest" else GraphQLDoor(client)


@pytest.fixture(autouse=True)
def _closed_breakers():
    """Every test starts with every provider's circuit closed (Redis is emptied above)."""
    from accounts.codes.sms import breaker

    breaker.reset()
