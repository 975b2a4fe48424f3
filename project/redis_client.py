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

from project import tracing

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


# A trip's counter commands, run by Redis as one command: KEYS[i] with ARGV[2i-1], a
# step (0: read the value) and ARGV[2i], when the key expires (a Unix time).
_COUNTERS = """
local out = {}
for i, key in ipairs(KEYS) do
  local step = tonumber(ARGV[2 * i - 1])
  if step == 0 then
    out[i] = redis.call('GET', key)
  else
    out[i] = redis.call('INCRBY', key, step)
    redis.call('EXPIREAT', key, ARGV[2 * i])
  end
end
return out
"""


class RoundTrip:
    """Commands gathered from several concerns, sent to Redis together by `send`.

    Counters (`count`, `read`) go as one Lua command, however many there are: a
    request's limits cost Redis one command to parse and answer, not two per counter.
    """

    __slots__ = ("_commands", "_replies", "_counters")

    def __init__(self) -> None:
        self._commands: list[tuple[str | bytes | int | float, ...]] = []
        self._replies: list[Reply] = []
        self._counters: list[tuple[str, int, int, Reply]] = []

    def add(self, *command: str | bytes | int | float) -> Reply:
        """Queue one Redis command, as its words (`"SET", key, 1, "NX"`); its raw
        answer (bytes, an integer, None) fills the `Reply`."""
        reply = Reply()
        self._commands.append(command)
        self._replies.append(reply)
        return reply

    def count(self, key: str, step: int, expire_at: int) -> Reply:
        """Queue adding `step` to a counter that expires at `expire_at`; the reply is
        its new value."""
        reply = Reply()
        self._counters.append((key, step, expire_at, reply))
        return reply

    def read(self, key: str) -> Reply:
        """Queue reading a counter (or any string value; None when there is none)."""
        reply = Reply()
        self._counters.append((key, 0, 0, reply))
        return reply

    def send(self) -> None:
        """One pipelined round trip for every queued command; none queued, no trip.

        Written on a pooled connection directly: redis-py's `Pipeline` builds and
        parses per command what a trip of raw commands does not need. Every answer is
        read before the first error is raised, so the connection goes back clean.
        """
        if not self._commands and not self._counters:
            return
        commands = list(self._commands)
        if self._counters:
            keys = [key for key, _, _, _ in self._counters]
            steps = [value for _, step, at, _ in self._counters for value in (step, at)]
            commands.insert(0, ("EVAL", _COUNTERS, len(keys), *keys, *steps))
        values = _round_trip(commands)
        if self._counters:
            for (_, _, _, reply), value in zip(self._counters, values.pop(0), strict=True):
                reply.value = value
        for reply, value in zip(self._replies, values, strict=True):
            reply.value = value
        self._commands.clear()
        self._replies.clear()
        self._counters.clear()


def _round_trip(commands: list[tuple]) -> list[Any]:
    pool = client().connection_pool
    # Traced, the trip is one span named by its commands' names (never their arguments).
    names = " ".join(str(command[0]) for command in commands) if tracing.ENABLED else ""
    with tracing.span(names, {"db.system": "redis", "db.redis.pipeline_length": len(commands)}):
        connection = pool.get_connection()
        try:
            return connection.retry.call_with_retry(
                lambda: _exchange(connection, commands),
                lambda error: connection.disconnect(),
            )
        finally:
            pool.release(connection)


def _exchange(connection: Any, commands: list[tuple]) -> list[Any]:
    connection.send_packed_command(connection.pack_commands(commands))
    values, error = [], None
    for _ in commands:
        try:
            values.append(connection.read_response())
        except redis.ResponseError as refused:  # read on: the next answers are queued
            values.append(None)
            error = error or refused
    if error is not None:
        raise error
    return values
