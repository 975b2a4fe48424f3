"""Metrics across processes: what every process writes adds up in /metrics,
parsed with prometheus_client's own parser, and no label holds a secret or a number."""

from __future__ import annotations

import re
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import E164, PHONE
from tests.servers import codes_sent, empty_shared_redis, manage, running_server

TOKEN = "metrics-scraper-token-0123456789"
LOOKUPS = 40


@pytest.fixture
def metered(tmp_path):
    empty_shared_redis()
    directory = tmp_path / "prometheus"
    with running_server(
        tmp_path,
        workers=2,
        METRICS_ENABLED="1",
        METRICS_TOKEN=TOKEN,
        PROMETHEUS_MULTIPROC_DIR=str(directory),
        JWT_REFRESH_TOKEN_REUSE_GRACE="0",
        STATUS_LOOKUPS_PER_IP_PER_HOUR="1000",
    ) as server:
        yield server, server.sms_dir, directory


def scrape(server, authorization: str | None = None):
    request = urllib.request.Request(server.url + "/metrics")
    if authorization:
        request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found, name, **labels) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


@pytest.mark.processes
def test_metrics_add_up_across_workers(metered):
    server, sms_dir, directory = metered

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(
            pool.map(
                lambda i: server.get(f"/accounts/api/status/0912000{i:04d}/")[0], range(LOOKUPS)
            )
        )
    assert statuses == [404] * LOOKUPS

    for number in ("09120000001", "09120000002", PHONE):
        assert server.get(f"/accounts/api/otp/{number}/")[0] == 200
    assert server.get(f"/accounts/api/otp/{PHONE}/")[0] == 429  # the resend cooldown
    code = codes_sent(sms_dir, E164)[-1]
    status, tokens, _ = server.post(
        "/accounts/api/token/", {"phone_number": PHONE, "password": code}
    )
    assert status == 200 and tokens["created"] is True
    wrong = {"phone_number": "09120000003", "password": "not the password"}
    assert server.post("/accounts/api/token/", wrong)[0] == 401
    assert server.post("/accounts/api/token/refresh/", {"refresh": tokens["refresh"]})[0] == 200
    assert server.post("/accounts/api/token/refresh/", {"refresh": tokens["refresh"]})[0] == 401

    # Another process writes to the same directory (as a second worker, a db_worker or a
    # command does), whichever worker served the requests above.
    increment = "from accounts.outbound.metrics import SIGNUPS; SIGNUPS.inc()"
    manage(server.env, "shell", "-c", increment)

    assert scrape(server)[0] == 401
    assert scrape(server, "Bearer not-the-token")[0] == 401
    status, text = scrape(server, f"Bearer {TOKEN}")
    assert status == 200
    found = samples(text)

    # Two processes wrote numbers, and /metrics added them up.
    pids = {re.search(r"_(\d+)\.db$", p.name)[1] for p in directory.glob("*.db")}
    assert len(pids) >= 2, pids
    route = {"route": "accounts:status", "status": "4xx"}
    assert value(found, "accounts_http_requests_total", **route) == LOOKUPS
    assert value(found, "accounts_http_request_duration_seconds_count", **route) == LOOKUPS

    assert value(found, "accounts_codes_sent_total", backend="file", outcome="sent") == 3
    refused = {"backend": "file", "outcome": "refused_number-cooldown"}
    assert value(found, "accounts_codes_sent_total", **refused) == 1
    assert value(found, "accounts_rate_limited_total", limit="number-cooldown") == 1
    assert value(found, "accounts_sms_send_seconds_count", backend="file", outcome="ok") == 3
    assert value(found, "accounts_logins_total", method="code", outcome="success") == 1
    failed = {"method": "password", "outcome": "invalid_credentials"}
    assert value(found, "accounts_logins_total", **failed) == 1
    assert value(found, "accounts_signups_total") == 2  # one here, one from the other process
    assert value(found, "accounts_refresh_total", outcome="rotated") == 1
    assert value(found, "accounts_refresh_total", outcome="reuse_detected") == 1

    # No label holds a number, an address, a code or a token.
    labels = " ".join(v for (_, pairs) in found for _, v in pairs)
    for secret in ("0912", "+98", "127.0.0.1", code, tokens["refresh"][:20], tokens["access"][:20]):
        assert secret not in labels


def test_metrics_are_off_unless_enabled(api):
    response = api.get("/metrics")
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"


def test_a_metrics_token_is_required_when_set(api, settings):
    settings.METRICS_ENABLED = True
    settings.METRICS_TOKEN = TOKEN
    refused = api.get("/metrics")
    assert refused.status_code == 401
    assert refused.json()["code"] == "UNAUTHENTICATED"
    assert refused["WWW-Authenticate"].startswith("Bearer")
    assert api.get("/metrics", HTTP_AUTHORIZATION="Bearer \udcff").status_code == 401
    answer = api.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert answer.status_code == 200
    assert "accounts_codes_sent_total" in answer.content.decode()


def test_wrong_metrics_tokens_count_against_the_per_ip_failure_budget(api, settings):
    settings.METRICS_ENABLED = True
    settings.METRICS_TOKEN = TOKEN
    settings.LOGIN_FAILURES_PER_IP_PER_HOUR = 3
    for guess in range(3):
        assert api.get("/metrics", HTTP_AUTHORIZATION=f"Bearer guess-{guess}").status_code == 401
    limited = api.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert limited.status_code == 429 and limited.json()["code"] == "RATE_LIMITED"
    login = api.post("/accounts/api/token/", {"phone_number": "09112223344", "password": "x"})
    assert login.status_code == 429
