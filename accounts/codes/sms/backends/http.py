"""The shared part of the HTTP providers: a pooled client, timeouts, safe retries, and
what each failure means for the send (see `SMSSendError`)."""

from __future__ import annotations

import atexit
import email.utils
import os
import ssl
import threading
import time
from typing import Any

import httpx
from django.conf import settings

from accounts.codes.sms.backends.base import BaseSMSBackend, SMSMessage, SMSSendError

# One client per thread, process and timeouts, made on first use and kept: its
# connections stay open between messages (keep-alive, TLS sessions reused). Every client
# of a process shares one SSL context, whose CA bundle costs milliseconds of CPU to load,
# built once. A client per thread, not one for all: the delivery worker's threads would
# otherwise queue on one connection pool's lock (at 128 threads, httpx's shared pool
# spent 6.5 ms of CPU a message and reopened connections; a client each, 0.7 ms).
_local = threading.local()
_ssl_lock = threading.Lock()
_ssl_context: tuple[int, ssl.SSLContext] | None = None


def _shared_ssl_context() -> ssl.SSLContext:
    global _ssl_context
    with _ssl_lock:
        if _ssl_context is None or _ssl_context[0] != os.getpid():
            _ssl_context = (os.getpid(), httpx.create_ssl_context())
        return _ssl_context[1]


# Failures before the request reached the provider: nothing can have been texted.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Longest pause a provider's Retry-After is believed for.
RETRY_AFTER_MOST = 3600.0


def pooled_client(timeout: httpx.Timeout) -> httpx.Client:
    """This thread's client for `timeout`. A forked worker makes its own: connections
    are never shared across processes."""
    key = (os.getpid(), timeout.connect, timeout.read)
    clients: dict = _local.__dict__.setdefault("clients", {})
    client = clients.get(key)
    if client is None:
        for stale in [other for other in clients if other[0] != key[0]]:
            del clients[stale]  # the parent's: left open, for the parent
        client = clients[key] = httpx.Client(timeout=timeout, verify=_shared_ssl_context())
        atexit.register(client.close)
    return client


def field(answer: Any, path: str) -> Any:
    """The value at a dotted `path` of a JSON answer (None when it is not there)."""
    for part in path.split("."):
        if isinstance(answer, dict):
            answer = answer.get(part)
        elif isinstance(answer, list) and part.isdigit() and int(part) < len(answer):
            answer = answer[int(part)]
        else:
            return None
    return answer


def json_of(response: httpx.Response) -> Any:
    """The answer's JSON, or None when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None


def code_in(response: httpx.Response, path: str) -> int | None:
    """The integer a provider's JSON answer holds at `path` (its status or error code);
    None when there is none."""
    value = field(json_of(response), path)
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def retry_after(response: httpx.Response) -> float | None:
    """The pause a `Retry-After` header asks for, in seconds (a number or an HTTP date)."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = moment.timestamp() - time.time()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_MOST)


class HTTPProviderBackend(BaseSMSBackend):
    """Sends one request per message through `request()`, which a provider implements,
    and reads the answer with `check()`.

    A request that never reached the provider (refused connection, connect timeout) is
    retried up to `SMS_RETRIES` times, a little later each time. A request that went
    and got no answer in time, or a 5xx, may have been texted: it is not retried (the
    route's next provider gets the same code) and the code is kept. A 429 pauses the
    provider for its `Retry-After`. Any other answer goes to `check()`. The timeouts are
    `SMS_CONNECT_TIMEOUT` and `SMS_READ_TIMEOUT`; requests go through the process's
    pooled client (`pooled_client`).
    """

    provider = "provider"
    # A provider's documented error codes, as reasons for the log, and the ones that are
    # about the number itself (no other provider is tried); any other fails over.
    reasons: dict[object, str] = {}
    final: frozenset[object] = frozenset()

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self.timeout = httpx.Timeout(
            float(self.option("read_timeout", settings.SMS_READ_TIMEOUT)),
            connect=float(self.option("connect_timeout", settings.SMS_CONNECT_TIMEOUT)),
        )

    def request(self, client: httpx.Client, message: SMSMessage) -> httpx.Response:
        raise NotImplementedError

    def check(self, response: httpx.Response) -> None:
        """Raise `SMSSendError` unless the provider accepted the message."""
        raise NotImplementedError

    def refused(self, code: object) -> SMSSendError:
        """The error for an answer that carried the provider's error `code`."""
        reason = self.reasons.get(code, "unexpected answer")
        return SMSSendError(f"{self.provider}: {code} {reason}", final=code in self.final)

    def send(self, message: SMSMessage) -> None:
        attempts = 1 + max(0, settings.SMS_RETRIES)
        client = pooled_client(self.timeout)
        for attempt in range(1, attempts + 1):
            try:
                response = self.request(client, message)
            except NOT_SENT as error:
                failure = f"{self.provider}: {type(error).__name__}"
                if attempt < attempts:
                    time.sleep(0.2 * attempt)
                    continue
                raise SMSSendError(f"{failure} after {attempts} attempt(s)") from None
            except httpx.TimeoutException:
                raise SMSSendError(f"{self.provider}: timed out", maybe_sent=True) from None
            except httpx.TransportError as error:
                reason = f"{self.provider}: {type(error).__name__}"
                raise SMSSendError(reason, maybe_sent=True) from None
            status = response.status_code
            if status == 429:
                raise SMSSendError(
                    f"{self.provider}: HTTP 429 throttled", retry_after=retry_after(response)
                )
            if status >= 500:
                raise SMSSendError(
                    f"{self.provider}: HTTP {status}",
                    maybe_sent=status != 503,  # 503: not taken in; may say when to come back
                    retry_after=retry_after(response) if status == 503 else None,
                )
            self.check(response)
            return
