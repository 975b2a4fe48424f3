"""What many tests share: the numbers they use, and running an action in parallel."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier
from typing import TypeVar

# The number most scenarios use, in the form people type it and in E.164.
PHONE = "09112223344"
E164 = "+989112223344"
# A second person's number.
OTHER_PHONE = "09123334455"

T = TypeVar("T")


def race(action: Callable[[int], T], count: int = 50) -> list[T]:
    """Run `action(i)` for i in range(count), in `count` threads released at the same
    moment. Each thread closes its own database connection when it is done."""
    from django.db import connection

    barrier = Barrier(count)

    def run(i: int) -> T:
        try:
            barrier.wait()
            return action(i)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))
