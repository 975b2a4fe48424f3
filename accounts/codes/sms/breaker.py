"""A circuit breaker per SMS provider, shared by every process through Redis.

Closed, a provider gets every message. After `SMS_BREAKER_FAILURES` failures in a row
(from any process; a success reported in between, or a minute without a failure, starts
the count again) it opens: for
`SMS_BREAKER_PAUSE` seconds no process sends to it, and routes go straight to their
next provider. A provider that answered 429 or 503 with `Retry-After` opens for that
long at once. When the pause is over, one message (the probe) is let through: its
success closes the breaker, its failure opens it for another pause. A provider that
refused the number itself (`SMSSendError.final`) answered properly: that counts as a
success.

The state is one Redis hash per provider, changed by Lua scripts that read Redis's own
clock, so processes on machines whose clocks differ agree. Opening is logged once, at
WARNING, by the process whose failure opened it; its state is the gauge
`accounts_sms_provider_state`. Without Redis (REDIS_URL empty) each process keeps its
own breakers. When Redis cannot be reached the breaker lets every message through: it
guards the service's time, not a secret.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from redis.exceptions import RedisError

from project import redis_client

logger = logging.getLogger("accounts")

CLOSED, OPEN, PROBING = 0, 1, 2
# A process that found a provider's breaker closed believes it this long without asking
# Redis again, and reports a success to Redis only when it saw a failure in the last
# RUN_FORGOTTEN seconds: a healthy provider costs no Redis command per message. A run of
# failures not followed by one that opens the breaker is forgotten after RUN_FORGOTTEN.
BELIEVED_CLOSED = 1.0
RUN_FORGOTTEN = 60
# What `allow` answers: skip the provider, send, or send as the probe.
SKIP, SEND, PROBE = 0, 1, 2

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""
# KEYS[1]: the provider's hash; ARGV[1]: seconds a probe may take.
_ALLOW = (
    _NOW
    + """
local open_until = tonumber(redis.call('HGET', KEYS[1], 'open_until') or '0')
if open_until == 0 then return 1 end
if now < open_until then return 0 end
local probe_until = tonumber(redis.call('HGET', KEYS[1], 'probe_until') or '0')
if now < probe_until then return 0 end
redis.call('HSET', KEYS[1], 'probe_until', tostring(now + tonumber(ARGV[1])))
return 2
"""
)
# ARGV: ok (1 or 0), failures that open it, pause, the pause the provider asked for
# (0: none), seconds the hash of an open breaker is kept, seconds a run of failures is.
# Answers 1 when this report opened the breaker, 2 when it closed it, 0 otherwise.
_REPORT = (
    _NOW
    + """
local key = KEYS[1]
local open_until = tonumber(redis.call('HGET', key, 'open_until') or '0')
if ARGV[1] == '1' then
  redis.call('DEL', key)
  if open_until ~= 0 then return 2 end
  return 0
end
local failures = redis.call('HINCRBY', key, 'failures', 1)
local asked = tonumber(ARGV[4])
local opened = 0
if asked > 0 or failures >= tonumber(ARGV[2]) or open_until ~= 0 then
  local pause = math.max(tonumber(ARGV[3]), asked)
  if now + pause > open_until then
    redis.call('HSET', key, 'open_until', tostring(now + pause))
  end
  redis.call('HSET', key, 'probe_until', '0')
  if open_until == 0 then opened = 1 end
  redis.call('EXPIRE', key, ARGV[5])
else
  redis.call('EXPIRE', key, ARGV[6])  -- a run of failures is forgotten a while after its last
end
return opened
"""
)
_STATE = (
    _NOW
    + """
local open_until = tonumber(redis.call('HGET', KEYS[1], 'open_until') or '0')
if open_until == 0 then return 0 end
if now < open_until then return 1 end
return 2
"""
)


def _key(provider: str) -> str:
    return f"sms:breaker:{provider}"


def probe_seconds() -> float:
    """How long a probe holds the half-open breaker: every try it may make."""
    tries = 1 + max(0, settings.SMS_RETRIES)
    return tries * (settings.SMS_CONNECT_TIMEOUT + settings.SMS_READ_TIMEOUT + 0.2 * tries) + 1


class _Local:
    """The same breaker in one process's memory, for a service without Redis."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.state: dict[str, dict[str, float]] = {}

    def allow(self, provider: str) -> int:
        now = time.monotonic()
        with self.lock:
            entry = self.state.get(provider)
            if entry is None or not entry.get("open_until"):
                return SEND
            if now < entry["open_until"] or now < entry.get("probe_until", 0):
                return SKIP
            entry["probe_until"] = now + probe_seconds()
            return PROBE

    def report(self, provider: str, ok: bool, asked: float) -> int:
        now = time.monotonic()
        with self.lock:
            entry = self.state.setdefault(provider, {})
            open_until = entry.get("open_until", 0.0)
            if ok:
                del self.state[provider]
                return 2 if open_until else 0
            entry["failures"] = entry.get("failures", 0) + 1
            if asked > 0 or entry["failures"] >= settings.SMS_BREAKER_FAILURES or open_until:
                entry["open_until"] = max(open_until, now + max(settings.SMS_BREAKER_PAUSE, asked))
                entry["probe_until"] = 0.0
                return 0 if open_until else 1
            return 0

    def current(self, provider: str) -> int:
        entry = self.state.get(provider)
        if entry is None or not entry.get("open_until"):
            return CLOSED
        return OPEN if time.monotonic() < entry["open_until"] else PROBING


_local = _Local()


_closed_until: dict[str, float] = {}  # provider -> monotonic time it is believed closed
_failed_at: dict[str, float] = {}  # provider -> monotonic time of this process's last failure


def allow(provider: str) -> int:
    """Whether a message may go to `provider` now: SKIP, SEND, or PROBE (it may, and it
    is the one message let through a breaker whose pause is over)."""
    if not settings.REDIS_URL:
        return _local.allow(provider)
    now = time.monotonic()
    if now < _closed_until.get(provider, 0.0):
        return SEND
    try:
        allowed = int(redis_client.client().eval(_ALLOW, 1, _key(provider), probe_seconds()))
    except RedisError:
        return SEND
    if allowed == SEND:
        _closed_until[provider] = now + BELIEVED_CLOSED
    return allowed


def report(provider: str, *, ok: bool, reason: str = "", retry_after: float | None = None) -> None:
    """Record how a message to `provider` went; log when that opened or closed it."""
    asked = max(0.0, retry_after or 0.0)
    now = time.monotonic()
    if not settings.REDIS_URL:
        changed = _local.report(provider, ok, asked)
    elif (
        ok
        and now < _closed_until.get(provider, 0.0)
        and now - _failed_at.get(provider, -1e9) > RUN_FORGOTTEN
    ):
        return  # closed, and no failure of ours in its run to undo
    else:
        if not ok:
            _closed_until.pop(provider, None)
            _failed_at[provider] = now
        try:
            changed = int(
                redis_client.client().eval(
                    _REPORT,
                    1,
                    _key(provider),
                    1 if ok else 0,
                    settings.SMS_BREAKER_FAILURES,
                    settings.SMS_BREAKER_PAUSE,
                    asked,
                    86400,
                    RUN_FORGOTTEN,
                )
            )
        except RedisError:
            return
    if changed == 1:
        pause = max(settings.SMS_BREAKER_PAUSE, asked)
        logger.warning(
            "SMS provider %s: circuit opened (%s); no message goes to it for %.0f s",
            provider,
            reason or "failed",
            pause,
        )
    elif changed == 2:
        logger.info("SMS provider %s: circuit closed; it takes messages again", provider)


def state(provider: str) -> int:
    """CLOSED, OPEN or PROBING (its pause is over and a probe may go), for /metrics."""
    if not settings.REDIS_URL:
        return _local.current(provider)
    return int(redis_client.client().eval(_STATE, 1, _key(provider)))


def reset() -> None:
    """Forget this process's breakers (tests; the Redis ones expire by themselves)."""
    with _local.lock:
        _local.state.clear()
    _closed_until.clear()
    _failed_at.clear()
