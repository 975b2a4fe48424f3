"""Django's PostgreSQL backend with idle-only health checks.

With `CONN_HEALTH_CHECKS`, Django sends `SELECT 1` before the first query of every
request: a whole extra round trip on every hot path. This backend checks a persistent
connection only when it has not been used for `HEALTH_CHECK_AFTER_IDLE` seconds (an
option in `DATABASES[...]["OPTIONS"]`, like redis-py's `health_check_interval`), which
is when a restart or a dropped idle connection can have gone unnoticed. A connection
that breaks while in steady use fails its next query; that request answers 503 and
Django replaces the connection when the request ends.

With the `PREPARED_STATEMENTS` option, the hot paths' raw statements (`accounts.sql`)
bind their parameters on the server, so psycopg prepares each one on a connection after
a few runs and PostgreSQL stops parsing and planning it on every request. The ORM's own
queries keep Django's client-side binding.
"""

import time

import psycopg
from django.db.backends.postgresql import base
from django.utils.asyncio import async_unsafe

# The class of the hot paths' plain cursors: psycopg's own, or its traced subclass while
# tracing is on (project/tracing.py).
RAW_CURSOR: type[psycopg.Cursor] = psycopg.Cursor


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, settings_dict, *args, **kwargs):
        settings_dict = {**settings_dict, "OPTIONS": dict(settings_dict.get("OPTIONS", {}))}
        options = settings_dict["OPTIONS"]
        self.health_check_after_idle = options.pop("HEALTH_CHECK_AFTER_IDLE", 0)
        self.prepared_statements = options.pop("PREPARED_STATEMENTS", False)
        if self.prepared_statements:
            options.setdefault("prepare_threshold", 5)  # psycopg's default; Django's is off
        super().__init__(settings_dict, *args, **kwargs)
        self._last_used = float("-inf")

    @async_unsafe
    def server_binding_cursor(self) -> psycopg.Cursor:
        """A plain psycopg cursor of this connection, which binds parameters on the
        server. The connection is checked, opened and guarded as `cursor()` does it, but
        the cursor comes without Django's wrapper, whose bookkeeping the hot paths'
        single statements do not need (run it under `wrap_database_errors`)."""
        self.close_if_health_check_failed()
        self.ensure_connection()
        self.validate_thread_sharing()
        return RAW_CURSOR(self.connection)

    def close_if_health_check_failed(self):
        now = time.monotonic()
        if now - self._last_used < self.health_check_after_idle:
            self.health_check_done = True  # in use a moment ago: trusted without a check
        self._last_used = now
        super().close_if_health_check_failed()
