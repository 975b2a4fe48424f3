"""The one owner of Redis: the process's client, and the round trip concerns share.

Rate limits (`limits`) and the status cache (`status_cache`) add their commands to a
`RoundTrip`, which goes to Redis as one pipeline: a request pays one round trip however
many concerns it touches, and no concern carries another's commands.
"""

from __future__ import annotations

from typing import Any

import redis
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

_client: redis.Redis | None = None


def client() -> redis.Redis:
    """The process's client, with its connection pool, made on first use."""
    global _client
    if _client is None:
        _client = redis.Redis.from_url(
            settings.REDIS_URL,
            socket_connect_timeout=settings.REDIS_TIMEOUT,
            socket_timeout=settings.REDIS_TIMEOUT,
            health_check_interval=30,
        )
    return _client


@receiver(setting_changed)
def _forget_client(setting: str, **kwargs: Any) -> None:
    global _client
    if setting in ("REDIS_URL", "REDIS_TIMEOUT"):
        _client = None


class Reply:
    """What one command answered, once its round trip has been sent."""

    __slots__ = ("value",)

    def __init__(self, value: Any = None) -> None:
        self.value = value


class RoundTrip:
    """Commands gathered from several concerns, sent to Redis together by `send`."""

    __slots__ = ("_commands", "_replies")

    def __init__(self) -> None:
        self._commands: list[tuple[str, tuple, dict]] = []
        self._replies: list[Reply] = []

    def add(self, command: str, *args: Any, **kwargs: Any) -> Reply:
        """Queue one command (a redis-py method name); its answer fills the `Reply`."""
        reply = Reply()
        self._commands.append((command, args, kwargs))
        self._replies.append(reply)
        return reply

    def send(self) -> None:
        """One pipelined round trip for every queued command; none queued, no trip."""
        if not self._commands:
            return
        pipeline = client().pipeline(transaction=False)
        for command, args, kwargs in self._commands:
            getattr(pipeline, command)(*args, **kwargs)
        for reply, value in zip(self._replies, pipeline.execute(), strict=True):
            reply.value = value
        self._commands.clear()
        self._replies.clear()
