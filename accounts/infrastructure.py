"""What counts as "a backing service is down", as opposed to a bug."""

from __future__ import annotations

from django.db import InterfaceError, OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError as RedisFull
from redis.exceptions import ReadOnlyError as RedisReadOnly
from redis.exceptions import TimeoutError as RedisTimeoutError

OUTAGES: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    RedisConnectionError,
    RedisTimeoutError,
    RedisFull,  # maxmemory reached under noeviction: writes refused
    RedisReadOnly,  # a failover left the address on a replica
)
