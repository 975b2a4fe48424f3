"""Several real server processes over one database (and one Redis when the run has it):
the rules hold across processes exactly as within one."""

from __future__ import annotations

import os
import urllib.error
import urllib.request

import pytest

from tests.helpers import E164, PHONE, race
from tests.servers import codes_sent, empty_shared_redis, running_server, running_servers

pytestmark = pytest.mark.processes


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Two gunicorn instances with two workers each, sharing every backing service."""
    tmp = tmp_path_factory.mktemp("cluster")
    empty_shared_redis()
    with running_servers(
        tmp,
        count=2,
        workers=2,
        OTP_SENDS_PER_IP_PER_HOUR="1000",
        STATUS_LOOKUPS_PER_IP_PER_HOUR="1000",
        LOGIN_FAILURES_PER_IP_PER_HOUR="1000",
        JWT_REFRESH_TOKEN_REUSE_GRACE="0",
    ) as (a, b):
        yield a, b, a.sms_dir, a.database_url


def test_code_sent_through_one_instance_logs_in_through_the_other(cluster):
    a, b, sms_dir, _ = cluster
    assert a.get(f"/accounts/api/otp/{PHONE}/")[0] == 200
    code = codes_sent(sms_dir, E164)[-1]
    status, body, _ = b.post("/accounts/api/token/", {"phone_number": PHONE, "password": code})
    assert status == 200 and body["created"] is True
    assert a.get(f"/accounts/api/status/{PHONE}/")[1] == {"password": False}


def test_cooldown_set_on_one_instance_holds_on_the_other(cluster):
    a, b, _, _ = cluster
    number = "09120000001"
    assert a.get(f"/accounts/api/otp/{number}/")[0] == 200
    status, body, headers = b.get(f"/accounts/api/otp/{number}/")
    assert status == 429 and body["code"] == "RATE_LIMITED"
    assert int(headers["Retry-After"]) > 50


def test_refresh_token_rotated_on_one_instance_is_dead_on_the_other(cluster):
    a, b, sms_dir, _ = cluster
    number, e164 = "09120000002", "+989120000002"
    a.get(f"/accounts/api/otp/{number}/")
    code = codes_sent(sms_dir, e164)[-1]
    tokens = a.post("/accounts/api/token/", {"phone_number": number, "password": code})[1]
    status, rotated, _ = a.post("/accounts/api/token/refresh/", {"refresh": tokens["refresh"]})
    assert status == 200
    assert b.post("/accounts/api/token/refresh/", {"refresh": tokens["refresh"]})[0] == 401
    # Reuse after the grace window revoked the whole session, on every instance.
    assert a.post("/accounts/api/token/refresh/", {"refresh": rotated["refresh"]})[0] == 401


def test_fifty_simultaneous_logins_with_one_code_across_processes_give_one_pair(cluster):
    a, b, sms_dir, _ = cluster
    number, e164 = "09120000003", "+989120000003"
    a.get(f"/accounts/api/otp/{number}/")
    code = codes_sent(sms_dir, e164)[-1]
    results = race(
        lambda i: (a, b)[i % 2].post(
            "/accounts/api/token/", {"phone_number": number, "password": code}
        )[0]
    )
    assert results.count(200) == 1
    assert results.count(401) == 49


def test_fifty_simultaneous_sends_across_processes_text_once(cluster):
    a, b, sms_dir, _ = cluster
    number, e164 = "09120000004", "+989120000004"
    results = race(lambda i: (a, b)[i % 2].get(f"/accounts/api/otp/{number}/")[0])
    assert results.count(200) == 1
    assert results.count(429) == 49
    assert len(codes_sent(sms_dir, e164)) == 1


def test_fifty_parallel_wrong_guesses_across_processes_stop_at_the_cap(cluster):
    a, b, sms_dir, _ = cluster
    number, e164 = "09120000005", "+989120000005"
    a.get(f"/accounts/api/otp/{number}/")
    code = codes_sent(sms_dir, e164)[-1]
    wrong = [f"{(int(code) + i) % 1_000_000:06d}" for i in range(1, 51)]
    results = race(
        lambda i: (a, b)[i % 2].post(
            "/accounts/api/token/", {"phone_number": number, "password": wrong[i]}
        )[0]
    )
    assert results == [401] * 50
    # Five wrong guesses killed the code: the right one fails now.
    assert b.post("/accounts/api/token/", {"phone_number": number, "password": code})[0] == 401


@pytest.fixture(scope="module")
def strict_cluster(tmp_path_factory):
    """Two instances with a per-IP limit of 3 sends an hour."""
    tmp = tmp_path_factory.mktemp("strict")
    empty_shared_redis()
    with running_servers(tmp, count=2, OTP_SENDS_PER_IP_PER_HOUR="3") as (a, b):
        yield a, b


def test_per_ip_limit_is_one_limit_across_instances(strict_cluster):
    a, b = strict_cluster
    assert a.get("/accounts/api/otp/09121000001/")[0] == 200
    assert b.get("/accounts/api/otp/09121000002/")[0] == 200
    assert a.get("/accounts/api/otp/09121000003/")[0] == 200
    status, body, _ = b.get("/accounts/api/otp/09121000004/")
    assert status == 429 and body["code"] == "RATE_LIMITED"


def test_health_and_request_ids(cluster):
    a, _, _, _ = cluster
    status, body, headers = a.get("/healthz")
    assert (status, body) == (200, {"status": "ok"})
    assert len(headers["X-Request-ID"]) == 32
    assert a.get("/readyz")[0] == 200


@pytest.mark.parametrize("path", ["/livez", "/accounts/api/status/09112223344/"])
def test_api_answers_are_sized_not_chunked(cluster, path):
    a, _, _, _ = cluster
    try:
        response = urllib.request.urlopen(a.url + path, timeout=30)
    except urllib.error.HTTPError as error:  # the status of a number with no account: 404
        response = error
    with response:
        body = response.read()
    assert response.headers["Content-Length"] == str(len(body))
    assert "Transfer-Encoding" not in response.headers


def test_counters_live_in_the_shared_store(cluster):
    """With REDIS_URL the per-IP counters are in Redis; without it, in the database."""
    a, _, _, database_url = cluster
    assert a.get("/accounts/api/otp/09120000009/")[0] == 200
    if os.environ.get("REDIS_URL"):
        import redis

        assert redis.Redis.from_url(os.environ["REDIS_URL"]).keys("*rl:*")
        return
    if database_url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
            rows = conn.execute("SELECT COUNT(*) FROM accounts_ratecounter").fetchone()[0]
    else:
        import psycopg

        with psycopg.connect(database_url) as conn:
            rows = conn.execute("SELECT COUNT(*) FROM accounts_ratecounter").fetchone()[0]
    assert rows > 0


def test_json_logs_carry_the_request_id_and_never_the_number(tmp_path):
    import json

    with running_server(tmp_path, LOG_FORMAT="json", LOG_LEVEL="INFO") as server:
        server.get(f"/accounts/api/otp/{PHONE}/")
        status, _, headers = server.get(f"/accounts/api/otp/{PHONE}/")
        assert status == 429
        log = server.log_text()
    records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    refusal = next(r for r in records if "refused" in r["message"])
    assert refusal["request_id"] == headers["X-Request-ID"]
    assert refusal["level"] == "WARNING" and refusal["logger"] == "accounts"
    assert "+98911****344" in refusal["message"]
    assert PHONE not in log and E164 not in log


def test_static_files_are_served_with_debug_off(tmp_path):
    with running_server(
        tmp_path, setup=[("collectstatic", "--noinput")], STATIC_ROOT=str(tmp_path / "static")
    ) as server:
        request = urllib.request.Request(server.url + "/static/admin/css/base.css")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
            assert b"body" in response.read()


def _chunked_post(server, path: str, body: bytes) -> tuple[int, dict]:
    """POST with Transfer-Encoding: chunked and no Content-Length, as streaming clients do."""
    import http.client
    import json as _json

    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request(
            "POST",
            path,
            body=iter([body[i : i + 4096] for i in range(0, len(body), 4096)]),
            headers={"Content-Type": "application/json", "Accept-Language": "en"},
            encode_chunked=True,
        )
        response = connection.getresponse()
        return response.status, _json.loads(response.read())
    finally:
        connection.close()


def test_chunked_bodies_are_read_and_capped_like_sized_ones(cluster):
    a, _, _, _ = cluster
    status, body = _chunked_post(a, "/graphql", b'{"query": "{ __typename }"}')
    assert (status, body) == (200, {"data": {"__typename": "Query"}})
    status, body = _chunked_post(a, "/accounts/api/token/verify/", b'{"token": "x"}')
    assert (status, body["code"]) == (401, "token_not_valid")
    big = b'{"query": "{ __typename }", "pad": "' + b"x" * 70_000 + b'"}'
    status, body = _chunked_post(a, "/graphql", big)
    assert status == 413
    assert body == {
        "errors": [
            {
                "message": "The request body is too large.",
                "extensions": {"code": "REQUEST_TOO_LARGE"},
            }
        ]
    }


def _answer(server, path: str, headers: dict) -> tuple[int, dict]:
    """A GET through a plain connection (no redirect followed): status and headers."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status, dict(response.headers)
    finally:
        connection.close()


@pytest.mark.parametrize("trusted", [False, True])
def test_forwarded_headers_count_only_from_a_listed_proxy(tmp_path, trusted):
    """From a peer outside TRUSTED_PROXIES, X-Forwarded-For names no client and
    X-Forwarded-Proto makes no request secure; from a listed one, both are believed."""
    empty_shared_redis()
    with running_server(
        tmp_path,
        TRUSTED_PROXIES="127.0.0.1" if trusted else "10.0.0.0/8",
        SECURE_SSL_REDIRECT="1",
        OTP_SENDS_PER_IP_PER_HOUR="1",
    ) as server:
        https = {"X-Forwarded-Proto": "https"}
        statuses = [
            _answer(
                server,
                f"/accounts/api/otp/0935200000{i}/",
                {**https, "X-Forwarded-For": f"198.51.100.{i}"},
            )[0]
            for i in range(3)
        ]
        plain, headers = _answer(server, "/accounts/api/status/09352000000/", {})
    # Without a listed proxy, "https" is not believed: every request is redirected.
    assert statuses == ([200, 200, 200] if trusted else [301, 301, 301])
    assert plain == 301 and headers["Location"].startswith("https://")


def test_x_forwarded_for_from_an_unlisted_peer_names_no_client(tmp_path):
    empty_shared_redis()
    with running_server(
        tmp_path,
        TRUSTED_PROXIES="10.0.0.0/8",
        TRUSTED_PROXY_COUNT="1",
        OTP_SENDS_PER_IP_PER_HOUR="1",
    ) as server:
        forged = [
            _answer(
                server, f"/accounts/api/otp/0935200001{i}/", {"X-Forwarded-For": f"198.51.100.{i}"}
            )[0]
            for i in range(3)
        ]
    assert forged == [200, 429, 429]


@pytest.mark.parametrize("account", ["none", "password"])
def test_parallel_failures_never_overshoot_the_per_ip_budget(tmp_path, account):
    """Each attempt takes its place in the client's failure budget before it is tried:
    40 parallel wrong passwords from one client against two instances, with a budget of
    10, evaluate 10 and refuse 30, even where the hasher keeps each attempt in flight."""
    empty_shared_redis()
    setup = []
    if account == "password":
        create = (
            "from accounts.models import User; u = User(phone_number='+989352000099'); "
            "u.set_password('the right passphrase'); u.save()"
        )
        setup.append(("shell", "-c", create))
    with running_servers(
        tmp_path,
        count=2,
        workers=2,
        setup=setup,
        LOGIN_FAILURES_PER_IP_PER_HOUR="10",
        PASSWORD_LOCKOUT_THRESHOLD="1000",
    ) as (a, b):
        wrong = {"phone_number": "09352000099", "password": "a wrong passphrase"}
        statuses = race(lambda i: (a if i % 2 else b).post("/accounts/api/token/", wrong)[0], 40)
    assert sorted(statuses) == [401] * 10 + [429] * 30


def test_instances_share_no_control_socket(tmp_path):
    """gunicorn's control socket is off unless an instance is given a path of its own:
    its default, one per user, would be taken over by a second instance and deleted
    when either stops."""
    home, runtime = tmp_path / "home", tmp_path / "runtime"
    home.mkdir()
    runtime.mkdir()
    own = tmp_path / "own.ctl"
    (tmp_path / "again").mkdir()
    with running_servers(tmp_path, count=1, HOME=str(home), XDG_RUNTIME_DIR=str(runtime)):
        assert list(home.rglob("*.ctl")) == [] and list(runtime.rglob("*.ctl")) == []
    with running_servers(
        tmp_path / "again", count=1, GUNICORN_CONTROL_SOCKET=str(own), HOME=str(home)
    ):
        assert own.exists()
