"""The circuit breaker is one for every process: two gunicorn instances on one Redis,
a provider on 127.0.0.1 that fails, then recovers."""

from __future__ import annotations

import json
import os
import time

import pytest

from tests.fake_api import FakeApi
from tests.servers import running_servers

pytestmark = pytest.mark.processes

KAVENEGAR_OK = (200, {"return": {"status": 200, "message": "ok"}, "entries": []})
SERVER_ERROR = (500, {"message": "internal error"})


class Fake(FakeApi):
    def __init__(self) -> None:
        self.answer_with = SERVER_ERROR
        self.requests = 0
        super().__init__(self.answer)

    def answer(self, path, form, headers):
        self.requests += 1
        return self.answer_with


@pytest.fixture
def first():
    fake = Fake()
    yield fake
    fake.close()


def test_the_breaker_opens_and_closes_for_both_instances(tmp_path, first):
    if not os.environ.get("REDIS_URL"):
        pytest.skip("instances share their breakers through Redis; runs in the Redis leg")
    providers = {
        "first": {
            "backend": "kavenegar",
            "api_key": "k",
            "template": "login",
            "base_url": first.url,
        },
        "second": {"backend": "dummy"},
    }
    with running_servers(
        tmp_path,
        count=2,
        SMS_PROVIDERS=json.dumps(providers),
        SMS_BREAKER_FAILURES="2",
        SMS_BREAKER_PAUSE="1",
        SMS_RETRIES="0",
    ) as (one, other):

        def send(server, last: int) -> None:
            assert server.get(f"/accounts/api/otp/0912000000{last}/")[0] == 200

        send(one, 1)
        send(other, 2)  # the second failure in a row, from the other instance: open
        assert first.requests == 2
        send(one, 3)
        send(other, 4)
        assert first.requests == 2  # neither instance asks it while it is paused
        logs = one.log_text() + other.log_text()
        assert logs.count("SMS provider first: circuit opened") == 1
        time.sleep(1.2)  # SMS_BREAKER_PAUSE
        first.answer_with = KAVENEGAR_OK
        send(other, 5)  # the probe: taken, and the breaker closes for both
        assert first.requests == 3
        send(one, 6)
        send(other, 7)
        assert first.requests == 5
