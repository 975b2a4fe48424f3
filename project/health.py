"""Probes for load balancers and orchestrators."""

import logging

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

logger = logging.getLogger("accounts")


def _database_answers() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone() == (1,)


def _cache_answers() -> bool:
    cache.set("healthz", "ok", 10)
    return cache.get("healthz") == "ok"


CHECKS = {"database": _database_answers, "cache": _cache_answers}


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database and the cache answer; 503 naming what does not."""
    failing = []
    for name, check in CHECKS.items():
        try:
            healthy = check()
        except Exception as error:
            logger.warning("healthz: %s is down (%s)", name, type(error).__name__)
            healthy = False
        if not healthy:
            failing.append(name)
    if failing:
        return JsonResponse({"status": "unavailable", "failing": failing}, status=503)
    return JsonResponse({"status": "ok"})


@require_GET
def livez(request: HttpRequest) -> JsonResponse:
    """200 while the process can answer at all; checks nothing behind it."""
    return JsonResponse({"status": "ok"})
