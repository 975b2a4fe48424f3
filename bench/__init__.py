"""`make bench` and `make drill`: the service measured, and attacked, on this machine."""

from __future__ import annotations

import argparse
import os


def add_service_arguments(parser: argparse.ArgumentParser) -> None:
    """--database-url and --redis-url: the PostgreSQL (a database of its own is made on
    it) and the Redis database (emptied) a run uses."""
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    )
