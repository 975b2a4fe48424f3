"""Probes for load balancers and orchestrators."""

import logging

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse

from accounts.codes import courier
from accounts.sessions import keys
from project import redis_client
from project.errors import endpoint, json_response

logger = logging.getLogger("accounts")


def _database_answers() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone() == (1,)


def _cache_answers() -> bool:
    return bool(redis_client.client().ping())


def checks() -> dict:
    """What /healthz asks: the database, and Redis when the service has one."""
    found = {"database": _database_answers}
    if settings.REDIS_URL:
        found["cache"] = _cache_answers
    return found


@endpoint("GET", "HEAD")
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database and the cache answer; 503 naming what does not."""
    return _answer(checks())


@endpoint("GET", "HEAD")
def readyz(request: HttpRequest) -> JsonResponse:
    """/healthz's checks, and the signing keys: not ready while the key file does not
    load (the last good keys still sign meanwhile), so that a rollout stops there. With
    SMS_SEND_IN_BACKGROUND, also not ready while a queued send has waited longer than
    SMS_DELIVERY_MAX_WAIT: no delivery worker runs, or they do not keep up."""
    found = {**checks(), "signing_keys": keys.in_force}
    if settings.SMS_SEND_IN_BACKGROUND:
        found["sms_queue"] = courier.keeping_up
    return _answer(found)


def _answer(found: dict) -> JsonResponse:
    failing = []
    for name, check in found.items():
        try:
            healthy = check()
        except Exception as error:
            logger.warning("healthz: %s is down (%s)", name, type(error).__name__)
            healthy = False
        if not healthy:
            failing.append(name)
    if failing:
        return json_response({"status": "unavailable", "failing": failing}, status=503)
    return json_response({"status": "ok"})


@endpoint("GET", "HEAD")
def livez(request: HttpRequest) -> JsonResponse:
    """200 while the process can answer at all; checks nothing behind it."""
    return json_response({"status": "ok"})
