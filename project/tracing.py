"""OpenTelemetry traces: off unless the standard OTEL_* variables ask for them.

On when `OTEL_TRACES_EXPORTER` names an exporter (`otlp`, `console`) or an OTLP endpoint
is set (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), and not
`OTEL_SDK_DISABLED=true`. Then every request is a trace (opentelemetry-instrumentation-
django, on both middleware chains), with its PostgreSQL statements (psycopg), Redis
commands (redis), calls to SMS providers and bot checks (httpx), one span per GraphQL
operation and one per SMS sent. `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES` and the
exporter's own variables work as the SDK documents them.

No span carries a code, a token or a whole phone number: paths and URLs are cut to what
names no one (digits past the fourth masked, query strings and provider URLs' paths
dropped), SQL is recorded without its parameters, Redis commands without their
arguments, GraphQL operations by type and name only.

Off, nothing here is imported beyond this module, and `span` is a shared no-op context.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Mapping

ENABLED = False
_tracer = None

DJANGO_MIDDLEWARE = (
    "opentelemetry.instrumentation.django.middleware.otel_middleware._DjangoMiddleware"
)
_DIGITS = re.compile(r"\d{5,}")
NOTHING = contextlib.nullcontext()
# Attributes that hold a request's path or URL, in the old and the new conventions.
_PATH_ATTRIBUTES = ("http.target", "url.path")
_URL_ATTRIBUTES = ("http.url", "url.full")


def wanted(environ: Mapping[str, str] | None = None) -> bool:
    """True when the OTEL_* variables (of `environ`, or the process's) ask for traces."""
    if environ is None:
        environ = os.environ
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def masked(text: str) -> str:
    """`text` with every run of five or more digits cut to its first four."""
    return _DIGITS.sub(lambda m: m[0][:4] + "…", text)


def _scrub_request(span, request) -> None:
    """Django's server span: the path masked, no query string, no full URL."""
    if not span.is_recording():
        return
    path = masked(getattr(request, "path", "") or "")
    for name in _PATH_ATTRIBUTES:
        span.set_attribute(name, path)
    for name in _URL_ATTRIBUTES:
        span.set_attribute(name, path)


def _scrub_outgoing(span, request) -> None:
    """httpx's client span: the provider's scheme and host, never its path or query
    (a provider's API key, the number and the code can all travel there)."""
    if not span.is_recording():
        return
    url = request.url if hasattr(request, "url") else request[1]
    origin = f"{url.scheme}://{url.host}" if hasattr(url, "host") else ""
    for name in _URL_ATTRIBUTES:
        span.set_attribute(name, origin)


def configure(provider=None) -> None:
    """Turn tracing on: `provider` (a TracerProvider), or one made from the OTEL_*
    variables. Call before the WSGI handlers are made (project/wsgi.py does)."""
    global ENABLED, _tracer
    from django.conf import settings
    from opentelemetry import trace
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    if provider is None:
        provider = _provider_from_environment()
        trace.set_tracer_provider(provider)
    DjangoInstrumentor().instrument(tracer_provider=provider, request_hook=_scrub_request)
    # The API's lean chain gets the same middleware, first, as the full one.
    if DJANGO_MIDDLEWARE not in settings.API_MIDDLEWARE:
        settings.API_MIDDLEWARE = [DJANGO_MIDDLEWARE, *settings.API_MIDDLEWARE]
    PsycopgInstrumentor().instrument(
        tracer_provider=provider, enable_commenter=False, skip_dep_check=True
    )
    _trace_raw_cursors(provider)
    RedisInstrumentor().instrument(tracer_provider=provider)
    HTTPXClientInstrumentor().instrument(tracer_provider=provider, request_hook=_scrub_outgoing)
    _tracer = provider.get_tracer("accounts")
    ENABLED = True


def unconfigure() -> None:
    """Undo `configure` (for the tests)."""
    global ENABLED, _tracer
    from django.conf import settings
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    for instrumentor in (
        DjangoInstrumentor(),
        PsycopgInstrumentor(),
        RedisInstrumentor(),
        HTTPXClientInstrumentor(),
    ):
        instrumentor.uninstrument()
    settings.API_MIDDLEWARE = [m for m in settings.API_MIDDLEWARE if m != DJANGO_MIDDLEWARE]
    _trace_raw_cursors(None)
    ENABLED, _tracer = False, None


def _trace_raw_cursors(provider) -> None:
    """The hot paths' plain psycopg cursors (project/postgresql) bypass the connection's
    cursor factory, which the instrumentation wraps: give them the instrumentation's
    traced cursor class (its helper is private; the version is pinned and the tracing
    test sees their statements)."""
    import psycopg

    from project.postgresql import base

    if provider is None:
        base.RAW_CURSOR = psycopg.Cursor
        return
    from opentelemetry.instrumentation.psycopg import _new_cursor_factory

    base.RAW_CURSOR = _new_cursor_factory(base_factory=psycopg.Cursor, tracer_provider=provider)


def _provider_from_environment():
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    provider = TracerProvider(resource=Resource.create())
    exporter = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() or "otlp"
    if exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


@contextlib.contextmanager
def _span(name: str, attributes: dict) -> Iterator[None]:
    assert _tracer is not None
    with _tracer.start_as_current_span(name, attributes=attributes):
        yield


def span(name: str, attributes: dict | None = None):
    """A span named `name` around a block when tracing is on; a no-op when it is off."""
    if not ENABLED:
        return NOTHING
    return _span(name, attributes or {})


def untraced():
    """A block whose work makes no spans (a background poll, which would otherwise
    start a trace of its own every time it runs); a no-op when tracing is off."""
    if not ENABLED:
        return NOTHING
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    return suppress_instrumentation()
