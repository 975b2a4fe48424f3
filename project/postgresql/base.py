"""Django's PostgreSQL backend with idle-only health checks.

With `CONN_HEALTH_CHECKS`, Django sends `SELECT 1` before the first query of every
request: a whole extra round trip on every hot path. This backend checks a persistent
connection only when it has not been used for `HEALTH_CHECK_AFTER_IDLE` seconds (an
option in `DATABASES[...]["OPTIONS"]`, like redis-py's `health_check_interval`), which
is when a restart or a dropped idle connection can have gone unnoticed. A connection
that breaks while in steady use fails its next query; that request answers 503 and
Django replaces the connection when the request ends.
"""

import time

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, settings_dict, *args, **kwargs):
        settings_dict = {**settings_dict, "OPTIONS": dict(settings_dict.get("OPTIONS", {}))}
        self.health_check_after_idle = settings_dict["OPTIONS"].pop("HEALTH_CHECK_AFTER_IDLE", 0)
        super().__init__(settings_dict, *args, **kwargs)
        self._last_used = float("-inf")

    def close_if_health_check_failed(self):
        now = time.monotonic()
        if now - self._last_used < self.health_check_after_idle:
            self.health_check_done = True  # in use a moment ago: trusted without a check
        self._last_used = now
        super().close_if_health_check_failed()
