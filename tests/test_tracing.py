"""OpenTelemetry traces: one per request, with the request's PostgreSQL, Redis, GraphQL and
SMS spans, and nothing in any of them that names a code, a token or a whole number."""

from __future__ import annotations

import os
import time

import pytest
from django.db import connection

from project import tracing
from tests.conftest import SEND_OTP, TOKEN_AUTH, last_code
from tests.helpers import PHONE
from tests.servers import running_server

E164 = "+989112223344"

needs_services = pytest.mark.skipif(
    not (os.environ.get("DATABASE_URL", "").startswith("postgres") and os.environ.get("REDIS_URL")),
    reason="traces the psycopg and redis instrumentations: runs in the PostgreSQL and Redis leg",
)


@pytest.fixture
def spans(transactional_db):
    """Tracing on, into memory, as `configure` turns it on from the environment."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.configure(provider)
    # The test database's connection was opened before: open the next one traced.
    connection.close()
    try:
        yield exporter
    finally:
        tracing.unconfigure()
        connection.close()


def one_trace(exporter) -> list:
    finished = list(exporter.get_finished_spans())
    exporter.clear()
    assert finished
    assert len({span.context.trace_id for span in finished}) == 1, [s.name for s in finished]
    return finished


def systems(finished) -> set[str]:
    return {
        str(span.attributes.get("db.system") or span.attributes.get("db.system.name"))
        for span in finished
    }


def every_value(finished) -> str:
    parts = []
    for span in finished:
        parts.append(span.name)
        parts.extend(f"{key}={value}" for key, value in span.attributes.items())
        for event in span.events:
            parts.extend(f"{key}={value}" for key, value in event.attributes.items())
    return "\n".join(parts)


@needs_services
def test_a_code_login_is_traced_without_a_secret_or_a_number(api, spans):
    assert api.gql(SEND_OTP, {"phone": PHONE}).data["sendOtp"]["sent"] is True
    sent = one_trace(spans)
    code = last_code()
    names = [span.name for span in sent]
    assert "sms.send" in names and "graphql mutation Send" in names, names
    assert {"postgresql", "redis"} <= systems(sent)

    result = api.gql(TOKEN_AUTH, {"phone": PHONE, "password": code})
    tokens = result.data["tokenAuth"]
    login = one_trace(spans)
    assert "graphql mutation Login" in [span.name for span in login]
    assert {"postgresql", "redis"} <= systems(login)

    # The REST door's paths hold the number: masked in the server span.
    assert api.get(f"/accounts/api/status/{PHONE}/").status_code == 200
    rest = one_trace(spans)

    recorded = every_value(sent + login + rest)
    for secret in (code, tokens["token"], tokens["refreshToken"], E164, PHONE, PHONE[1:]):
        assert secret not in recorded
    assert "0911…" in recorded


@needs_services
def test_the_revocation_poll_starts_no_trace(spans):
    """Each worker polls Redis for ended sessions four times a second: traced, every
    poll would be a trace of its own (and slip into the next request's)."""
    from accounts.sessions import revocation
    from project import redis_client

    ended = "poll-check-session"
    redis_client.client().zadd(revocation.KEY, {ended: time.time()})
    spans.clear()  # the test's own command
    revocation.is_ended(ended)  # starts the poller, if this process has none yet
    deadline = time.monotonic() + 30
    while not revocation.is_ended(ended):  # a poll has read the entry
        assert time.monotonic() < deadline, "the poller never read the entry"
        time.sleep(0.05)
    assert [span.name for span in spans.get_finished_spans()] == []
    redis_client.client().zrem(revocation.KEY, ended)


def test_off_by_default_and_by_the_standard_variables():
    assert not tracing.ENABLED
    assert tracing.span("anything") is tracing.NOTHING
    assert not tracing.wanted({})
    assert not tracing.wanted({"OTEL_TRACES_EXPORTER": "none"})
    assert not tracing.wanted({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"})
    assert tracing.wanted({"OTEL_TRACES_EXPORTER": "otlp"})
    assert tracing.wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})


@pytest.mark.processes
def test_the_standard_variables_turn_it_on_under_gunicorn(tmp_path):
    """OTEL_TRACES_EXPORTER=console, as an operator would set it: gunicorn's workers
    trace every request (the lean API chain included) and write the spans out."""
    with running_server(
        tmp_path, workers=1, OTEL_TRACES_EXPORTER="console", OTEL_SERVICE_NAME="accounts"
    ) as server:
        assert server.get(f"/accounts/api/status/{PHONE}/")[0] == 404
        server.process.terminate()  # the SDK writes what it holds as the worker exits
        server.process.wait(timeout=30)
        log = server.log_text()
    assert '"service.name": "accounts"' in log
    assert '"name": "GET livez"' in log  # the lean chain's probe
    assert '"name": "GET accounts/api/status/' in log
    assert '"url.path": "/accounts/api/status/0911\\u2026/"' in log  # JSON-escaped "…"
    assert PHONE not in log and E164 not in log
