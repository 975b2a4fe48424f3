"""One scenario, either door. `RestDoor` and `GraphQLDoor` speak to the service the way
their clients do, through the WSGI application production serves (`project.wsgi`, with
its lean middleware chain), and answer in the same terms: the status, what a success
carried, and the catalogue's code of an error (REST's aliases read back)."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

from accounts.errors import catalogue
from tests.conftest import last_code

BY_REST_CODE = {kind.rest(): code for code, kind in catalogue().items()}


@dataclass
class Answer:
    status: int
    data: dict[str, Any] = field(default_factory=dict)
    code: str | None = None  # the error's code in the catalogue; None on success
    headers: dict[str, str] = field(default_factory=dict)


class ProductionClient:
    """Requests through `project.wsgi.application`, in this process."""

    def __init__(self, application) -> None:
        self.application = application

    def request(self, method: str, path: str, body: bytes = b"", **headers: str) -> Answer:
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "HTTP_HOST": "127.0.0.1",
            "REMOTE_ADDR": "127.0.0.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": io.StringIO(),
            "wsgi.url_scheme": "http",
            "wsgi.version": (1, 0),
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            **headers,
        }
        started: dict[str, Any] = {}

        def start_response(status, response_headers, exc_info=None):
            started["status"], started["headers"] = int(status[:3]), dict(response_headers)

        content = b"".join(self.application(environ, start_response))
        return Answer(started["status"], json.loads(content), headers=started["headers"])

    def post_json(self, path: str, data: object, **headers: str) -> Answer:
        return self.request("POST", path, json.dumps(data).encode(), **headers)


class RestDoor:
    name = "rest"

    def __init__(self, client: ProductionClient) -> None:
        self.client = client

    def _answer(self, answer: Answer, *, expected: int = 200) -> Answer:
        if answer.status != expected:
            answer.code = BY_REST_CODE[answer.data["code"]]
        return answer

    def status(self, phone: str) -> Answer:
        answer = self.client.request("GET", f"/accounts/api/status/{phone}/")
        if answer.status == 404 and answer.data.get("code") == "NOT_FOUND":
            return Answer(200, {"exists": False, "has_password": False})
        answer = self._answer(answer)
        if answer.code is None:
            answer.data = {"exists": True, "has_password": answer.data["password"]}
        return answer

    def send_code(self, phone: str) -> Answer:
        return self._answer(self.client.request("POST", f"/accounts/api/otp/{phone}/"))

    def log_in(self, phone: str, password: str) -> Answer:
        body = {"phone_number": phone, "password": password}
        return self._answer(self.client.post_json("/accounts/api/token/", body))

    def refresh(self, refresh: str) -> Answer:
        body = {"refresh": refresh}
        return self._answer(self.client.post_json("/accounts/api/token/refresh/", body))

    def verify(self, access: str) -> Answer:
        body = {"token": access}
        return self._answer(self.client.post_json("/accounts/api/token/verify/", body))

    def log_out(self, refresh: str) -> Answer:
        body = {"refresh": refresh}
        return self._answer(self.client.post_json("/accounts/api/token/blacklist/", body))

    def raw(self, body: bytes) -> Answer:
        return self._answer(self.client.request("POST", "/accounts/api/token/", body))


class GraphQLDoor:
    name = "graphql"

    def __init__(self, client: ProductionClient) -> None:
        self.client = client

    def _call(self, query: str, field: str, **variables: object) -> Answer:
        answer = self.client.post_json("/graphql", {"query": query, "variables": variables})
        return self._answer(answer, field)

    @staticmethod
    def _answer(answer: Answer, field: str | None) -> Answer:
        errors = answer.data.get("errors")
        if errors:
            answer.code = errors[0]["extensions"]["code"]
            answer.data = {}
        elif field is not None:
            answer.data = answer.data["data"][field]
        return answer

    def status(self, phone: str) -> Answer:
        query = "query($p: String!) { userStatus(phoneNumber: $p) { exists hasPassword } }"
        answer = self._call(query, "userStatus", p=phone)
        if answer.code is None:
            answer.data = {
                "exists": answer.data["exists"],
                "has_password": answer.data["hasPassword"],
            }
        return answer

    def send_code(self, phone: str) -> Answer:
        query = "mutation($p: String!) { sendOtp(phoneNumber: $p) { sent } }"
        return self._call(query, "sendOtp", p=phone)

    def log_in(self, phone: str, password: str) -> Answer:
        query = """mutation($p: String!, $w: String!) {
          tokenAuth(phoneNumber: $p, password: $w) { token refreshToken created }
        }"""
        return self._tokens(self._call(query, "tokenAuth", p=phone, w=password))

    def refresh(self, refresh: str) -> Answer:
        query = "mutation($r: String!) { refreshToken(refreshToken: $r) { token refreshToken } }"
        return self._tokens(self._call(query, "refreshToken", r=refresh))

    def verify(self, access: str) -> Answer:
        query = "mutation($t: String!) { verifyToken(token: $t) { payload { sub } } }"
        return self._call(query, "verifyToken", t=access)

    def log_out(self, refresh: str) -> Answer:
        query = "mutation($r: String!) { revokeToken(refreshToken: $r) { revoked } }"
        return self._call(query, "revokeToken", r=refresh)

    def raw(self, body: bytes) -> Answer:
        return self._answer(self.client.request("POST", "/graphql", body), None)

    @staticmethod
    def _tokens(answer: Answer) -> Answer:
        if answer.code is None:
            data = answer.data
            answer.data = {"access": data["token"], "refresh": data["refreshToken"]}
            if "created" in data:
                answer.data["created"] = data["created"]
        return answer


def sign_up(door: RestDoor | GraphQLDoor, phone: str) -> dict[str, Any]:
    """Send a code to `phone` and log in with it, through `door`."""
    assert door.send_code(phone).code is None
    answer = door.log_in(phone, last_code())
    assert answer.code is None, answer
    return answer.data
