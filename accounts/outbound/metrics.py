"""Prometheus metrics (`METRICS_ENABLED=1`), served at /metrics.

The counters listen to `accounts.events`; the request middleware times every request
by route name and status class. Under gunicorn, `PROMETHEUS_MULTIPROC_DIR` makes every
worker write its numbers to files there, and /metrics adds them up (prometheus_client's
multiprocess mode). No label ever holds a phone number, an IP, a code or a token: labels
are route names, backends, methods, outcomes and limit names.
"""

from __future__ import annotations

import os
import time

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.db import DatabaseError
from django.http import HttpRequest
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from redis.exceptions import RedisError

from accounts.codes import courier
from accounts.codes.sms import breaker, providers
from accounts.outbound import events

if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # Every process that loads this (workers, but also migrate or db_worker) writes there.
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

CODES_SENT = Counter(
    "accounts_codes_sent_total",
    "Codes asked for, by SMS backend and outcome: sent, failed, invalid_number, or "
    "refused_<limit>.",
    ["backend", "outcome"],
)
LOGINS = Counter(
    "accounts_logins_total", "Logins by method (code, password) and outcome.", ["method", "outcome"]
)
SIGNUPS = Counter("accounts_signups_total", "Accounts created by a first login with a code.")
REFRESHES = Counter(
    "accounts_refresh_total",
    "Refresh-token rotations by outcome: rotated, retried, refused, reuse_detected.",
    ["outcome"],
)
RATE_LIMITED = Counter(
    "accounts_rate_limited_total", "Requests refused by a limit, by the limit's name.", ["limit"]
)
SMS_SECONDS = Histogram(
    "accounts_sms_send_seconds",
    "Time the SMS backend took to accept (or fail) one message.",
    ["backend", "outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20),
)
REQUESTS = Counter(
    "accounts_http_requests_total",
    "HTTP requests by route name and status class.",
    ["route", "status"],
)
REQUEST_SECONDS = Histogram(
    "accounts_http_request_duration_seconds",
    "HTTP request duration by route name and status class.",
    ["route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def _code_sent(sender, backend, **kwargs):
    CODES_SENT.labels(backend, "sent").inc()


def _code_not_sent(sender, backend, outcome, **kwargs):
    CODES_SENT.labels(backend, outcome).inc()


def _logged_in(sender, method, **kwargs):
    LOGINS.labels(method, "success").inc()


def _login_failed(sender, method, reason, **kwargs):
    LOGINS.labels(method, reason.lower()).inc()


def _signed_up(sender, **kwargs):
    SIGNUPS.inc()


def _refreshed(sender, outcome, **kwargs):
    REFRESHES.labels(outcome).inc()


def _rate_limited(sender, limit, **kwargs):
    RATE_LIMITED.labels(limit).inc()


def _sms_delivery(sender, backend, seconds, ok, **kwargs):
    SMS_SECONDS.labels(backend, "ok" if ok else "failed").observe(seconds)


RECEIVERS = (
    (events.code_sent, _code_sent),
    (events.code_not_sent, _code_not_sent),
    (events.user_logged_in, _logged_in),
    (events.login_failed, _login_failed),
    (events.user_signed_up, _signed_up),
    (events.token_refreshed, _refreshed),
    (events.rate_limited, _rate_limited),
    (events.sms_delivery, _sms_delivery),
)


def connect() -> None:
    """Start counting (called once at start-up when METRICS_ENABLED)."""
    for signal, receiver in RECEIVERS:
        signal.connect(receiver, dispatch_uid=f"accounts.metrics.{receiver.__name__}")


class RequestMetricsMiddleware:
    """Count and time every request by route name (never its path, which may hold a
    phone number) and status class."""

    def __init__(self, get_response):
        if not settings.METRICS_ENABLED:
            raise MiddlewareNotUsed  # out of the chain: nothing to count
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = match.view_name if match is not None else "unmatched"
        status = f"{response.status_code // 100}xx"
        REQUESTS.labels(route, status).inc()
        REQUEST_SECONDS.labels(route, status).observe(time.perf_counter() - started)
        return response


class QueueCollector:
    """The delivery queue's state, read from PostgreSQL when /metrics is scraped (so it
    tells the truth when no delivery worker runs at all)."""

    def collect(self):
        if not settings.SMS_SEND_IN_BACKGROUND:
            return
        try:
            waited = courier.longest_wait()
        except DatabaseError:
            return  # the database is away: /healthz says so
        yield GaugeMetricFamily(
            "accounts_sms_queue_oldest_seconds",
            "Seconds the queued send that has waited longest has waited for a delivery "
            "worker (0 when none waits).",
            value=waited,
        )


class ProviderCollector:
    """Each SMS provider's circuit, read from Redis (or this process, without it) when
    /metrics is scraped."""

    def collect(self):
        try:
            names = list(providers.providers().by_name)
            states = [(name, breaker.state(name)) for name in names]
        except (providers.ProviderSettingsError, RedisError):
            return  # the checks report the first, /healthz the second
        family = GaugeMetricFamily(
            "accounts_sms_provider_state",
            "Each SMS provider's circuit: 0 closed (sending), 1 open (paused after failures "
            "in a row), 2 half-open (a probe may go).",
            labels=["provider"],
        )
        for name, state in states:
            family.add_metric([name], state)
        yield family


_QUEUE = QueueCollector()
_PROVIDERS = ProviderCollector()


def exposition() -> tuple[bytes, str]:
    """The numbers in Prometheus text format, added up over every worker, and their
    content type."""
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    body = generate_latest(registry)
    queue = CollectorRegistry()
    queue.register(_QUEUE)
    queue.register(_PROVIDERS)
    return body + generate_latest(queue), CONTENT_TYPE_LATEST
