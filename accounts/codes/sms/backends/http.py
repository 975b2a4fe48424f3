"""The shared part of the HTTP providers: timeouts, a bounded retry, safe errors."""

from __future__ import annotations

import time

import httpx
from django.conf import settings

from accounts.codes.sms.backends.base import BaseSMSBackend, SMSMessage, SMSSendError


class HTTPProviderBackend(BaseSMSBackend):
    """Sends one request per message through `request()`, which a provider implements.

    Connection failures, timeouts and 5xx answers are retried up to `SMS_RETRIES`
    times, a little later each time; any other answer is final. The connect and read
    timeouts are `SMS_CONNECT_TIMEOUT` and `SMS_READ_TIMEOUT`.
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
        with httpx.Client(timeout=self.timeout) as client:
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
