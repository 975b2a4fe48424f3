"""The shared part of the HTTP providers: a pooled client, timeouts, a bounded retry,
safe errors."""

from __future__ import annotations

import atexit
import os
import threading
import time

import httpx
from django.conf import settings

from accounts.codes.sms.backends.base import BaseSMSBackend, SMSMessage, SMSSendError

# One client per process and timeouts, made on first use and kept: its connections stay
# open between messages (keep-alive, TLS sessions reused) and its SSL context, whose CA
# bundle costs milliseconds of CPU to load, is built once, not per message.
_clients: dict[tuple[int, float | None, float | None], httpx.Client] = {}
_clients_lock = threading.Lock()


def pooled_client(timeout: httpx.Timeout) -> httpx.Client:
    """The process's client for `timeout`. A forked worker makes its own: connections
    are never shared across processes."""
    key = (os.getpid(), timeout.connect, timeout.read)
    client = _clients.get(key)
    if client is None:
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                for stale in [other for other in _clients if other[0] != key[0]]:
                    del _clients[stale]  # the parent's: left open, for the parent
                client = _clients[key] = httpx.Client(timeout=timeout)
                atexit.register(client.close)
    return client


class HTTPProviderBackend(BaseSMSBackend):
    """Sends one request per message through `request()`, which a provider implements.

    Connection failures, timeouts and 5xx answers are retried up to `SMS_RETRIES`
    times, a little later each time; any other answer is final. The connect and read
    timeouts are `SMS_CONNECT_TIMEOUT` and `SMS_READ_TIMEOUT`. Requests go through the
    process's pooled client (`pooled_client`).
    """

    provider = "provider"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.timeout = httpx.Timeout(
            settings.SMS_READ_TIMEOUT, connect=settings.SMS_CONNECT_TIMEOUT
        )

    def request(self, client: httpx.Client, message: SMSMessage) -> httpx.Response:
        raise NotImplementedError

    def check(self, response: httpx.Response) -> None:
        """Raise `SMSSendError` unless the provider accepted the message."""
        raise NotImplementedError

    def send(self, message: SMSMessage) -> None:
        attempts = 1 + max(0, settings.SMS_RETRIES)
        client = pooled_client(self.timeout)
        for attempt in range(1, attempts + 1):
            try:
                response = self.request(client, message)
            except httpx.TimeoutException:
                failure = f"{self.provider}: timed out"
            except httpx.TransportError as error:
                failure = f"{self.provider}: {type(error).__name__}"
            else:
                if response.status_code < 500:
                    self.check(response)
                    return
                failure = f"{self.provider}: HTTP {response.status_code}"
            if attempt < attempts:
                time.sleep(0.2 * attempt)
        raise SMSSendError(f"{failure} after {attempts} attempt(s)")
