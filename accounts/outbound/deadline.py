"""An overall deadline for an HTTP exchange, under httpcore's per-operation timeouts.

A read timeout bounds each wait for bytes, not the exchange: a peer that answers one
byte a second never trips a 5 s read timeout, and holds its caller for as long as it
likes. Connections made through `DeadlineBackend` give every connect, TLS handshake,
write and read no more than what is left until `Clock.at`, so the whole exchange ends
by then, whatever the peer does.
"""

from __future__ import annotations

import math
import time
from typing import Any

import httpcore


class DeadlineExceeded(httpcore.ReadTimeout):
    """The exchange's deadline passed."""


class Clock:
    """When the exchange under way must end (`time.monotonic()` seconds)."""

    def __init__(self) -> None:
        self.at = math.inf

    def start(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    @property
    def passed(self) -> bool:
        return time.monotonic() >= self.at

    def left(self, timeout: float | None) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded("the exchange's deadline passed")
        return left if timeout is None else min(timeout, left)


class DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream, clock: Clock) -> None:
        self._stream, self._clock = stream, clock

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._clock.left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._clock.left(timeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        secured = self._stream.start_tls(ssl_context, server_hostname, self._clock.left(timeout))
        return DeadlineStream(secured, self._clock)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's own sync network backend, each stream held to `clock`."""

    def __init__(self, clock: Clock) -> None:
        self._backend, self._clock = httpcore.SyncBackend(), clock

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        stream = self._backend.connect_tcp(
            host, port, self._clock.left(timeout), local_address, socket_options
        )
        return DeadlineStream(stream, self._clock)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        stream = self._backend.connect_unix_socket(path, self._clock.left(timeout), socket_options)
        return DeadlineStream(stream, self._clock)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)
