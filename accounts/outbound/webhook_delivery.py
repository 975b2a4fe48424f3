"""Webhook delivery: `manage.py db_worker` signs each outbox row (`accounts.webhooks`)
and POSTs it, retrying with exponential backoff until WEBHOOK_RETRY_FOR has passed; then
the delivery is a dead letter, which the admin can send again.

Every try of an event carries the same `webhook-id`, so a receiver drops repeats by it.
To each endpoint, an account's events go in the order they happened: a later event
waits until the one before it is delivered or dead. Several workers may run at once:
each row is claimed by one, and a dead worker's claim lapses.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpcore
import httpx
from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django_tasks import task

from accounts.models import WebhookMessage
from accounts.outbound.deadline import Clock, DeadlineBackend

logger = logging.getLogger("accounts.webhooks")

PENDING = WebhookMessage.Status.PENDING
SECRET_PREFIX = "whsec_"
# Messages one delivery run sends before it hands over to a fresh run (so a long queue
# never keeps other background work waiting behind it).
RUN_LIMIT = 1000
CLAIM_BATCH = 50
# What a failed exchange with a receiver raises (httpcore has no one base class).
HTTP_FAILURES = (
    httpcore.TimeoutException,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
    httpcore.ConnectionNotAvailable,
)


# --- signing ------------------------------------------------------------------------------


def keys() -> list[bytes]:
    """The signing keys WEBHOOK_SECRET holds (several while a secret is being rotated)."""
    return [base64.b64decode(secret.removeprefix(SECRET_PREFIX)) for secret in secrets()]


def secrets() -> list[str]:
    """The secrets WEBHOOK_SECRET lists, blanks left out."""
    return [secret.strip() for secret in settings.WEBHOOK_SECRET if secret.strip()]


def sign(message_id: str, timestamp: int, body: str) -> str:
    """The `webhook-signature` header: `v1,<base64 HMAC-SHA256>` for every key,
    space-separated, over `id.timestamp.body`."""
    signed = f"{message_id}.{timestamp}.{body}".encode()
    return " ".join(
        "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        for key in keys()
    )


# --- delivery -------------------------------------------------------------------------------


def retry_delay(attempts: int) -> timedelta:
    """How long after its `attempts`-th failed try an event is tried again: doubling
    from WEBHOOK_FIRST_RETRY_DELAY up to WEBHOOK_MAX_RETRY_DELAY."""
    first, ceiling = settings.WEBHOOK_FIRST_RETRY_DELAY, settings.WEBHOOK_MAX_RETRY_DELAY
    return timedelta(seconds=min(ceiling, first * 2 ** min(attempts - 1, 40)))


def schedule() -> list[timedelta]:
    """When each try of an event whose receiver never answers happens, after the event:
    the first at once, the last one at or past WEBHOOK_RETRY_FOR."""
    tries, at, window = [timedelta(0)], timedelta(0), timedelta(seconds=settings.WEBHOOK_RETRY_FOR)
    while at < window:
        at += retry_delay(len(tries))
        tries.append(at)
    return tries


@dataclass(frozen=True)
class Run:
    delivered: int
    failed: int
    next_due: datetime | None  # when the next pending delivery falls due


@task()
def deliver() -> None:
    """A delivery run, in `manage.py db_worker`; it queues the next one when some
    deliveries wait for a later try."""
    run = deliver_due()
    if run.next_due is not None:
        kick(run.next_due)


def kick(when: datetime | None = None) -> None:
    """Queue a delivery run for `when` (now by default), unless one already waits to
    run by then."""
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult, get_date_max

    by = when or timezone.now()
    waiting = DBTaskResult.objects.filter(
        status=TaskResultStatus.READY, task_path=deliver.module_path
    ).filter(Q(run_after=get_date_max()) | Q(run_after__lte=by))
    if not waiting.exists():
        deliver.using(run_after=when).enqueue()


def deliver_due(*, limit: int = RUN_LIMIT) -> Run:
    """Send every delivery that is due, oldest first, one event per account and
    endpoint at a time; safe to run in several workers at once."""
    delivered = failed = 0
    clock = Clock()
    # httpcore's pool: keep-alive, no redirects followed, and every delivery held to
    # WEBHOOK_TIMEOUT in all (a receiver that answers a byte a second cannot hold it).
    with httpcore.ConnectionPool(network_backend=DeadlineBackend(clock)) as pool:
        while delivered + failed < limit and (claimed := _claim(CLAIM_BATCH)):
            for message in claimed:
                if _send(pool, clock, message):
                    delivered += 1
                else:
                    failed += 1
    if delivered + failed >= limit:
        return Run(delivered, failed, timezone.now())
    return Run(delivered, failed, _next_due())


def _heads() -> QuerySet[WebhookMessage]:
    """Pending deliveries with no earlier pending one of their account to their
    endpoint: the only ones that may go."""
    earlier = WebhookMessage.objects.filter(
        endpoint=OuterRef("endpoint"),
        account_id=OuterRef("account_id"),
        status=PENDING,
        pk__lt=OuterRef("pk"),
    )
    return WebhookMessage.objects.filter(status=PENDING).exclude(Exists(earlier))


def _unclaimed(now: datetime) -> Q:
    return Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)


def _claim(batch: int) -> list[WebhookMessage]:
    now = timezone.now()
    due = _heads().filter(_unclaimed(now), next_attempt_at__lte=now)
    ids = list(due.order_by("pk").values_list("pk", flat=True)[:batch])
    if not ids:
        return []
    token = uuid.uuid4()
    lease = now + timedelta(seconds=(settings.WEBHOOK_TIMEOUT + 1) * len(ids) + 30)
    # Conditional: of two workers that picked the same rows, each row goes to one.
    WebhookMessage.objects.filter(_unclaimed(now), pk__in=ids, status=PENDING).update(
        claimed_by=token, claimed_until=lease
    )
    return list(WebhookMessage.objects.filter(claimed_by=token, status=PENDING).order_by("pk"))


def _send(pool: httpcore.ConnectionPool, clock: Clock, message: WebhookMessage) -> bool:
    timestamp = int(time.time())
    headers = [
        ("content-type", "application/json"),
        ("webhook-id", message.message_id),
        ("webhook-timestamp", str(timestamp)),
        ("webhook-signature", sign(message.message_id, timestamp, message.body)),
    ]
    timeout = settings.WEBHOOK_TIMEOUT
    clock.start(timeout)
    try:
        # Streamed and closed unread: a receiver's answer is its status, whatever its size.
        with pool.stream(
            "POST",
            message.endpoint,
            content=message.body.encode(),
            headers=headers,
            extensions={"timeout": dict.fromkeys(("connect", "read", "write", "pool"), timeout)},
        ) as response:
            status = response.status
        ok, result = 200 <= status < 300, f"HTTP {status}"
    except HTTP_FAILURES as error:
        # A wait cut short by the deadline raises its own timeout: name the deadline.
        ok, result = False, "deadline passed" if clock.passed else type(error).__name__
    now = timezone.now()
    change: dict = {
        "attempts": message.attempts + 1,
        "last_attempt_at": now,
        "last_result": result,
        "claimed_by": None,
        "claimed_until": None,
    }
    if ok:
        change.update(status=WebhookMessage.Status.DELIVERED, delivered_at=now)
    elif now >= message.retry_until:
        change.update(status=WebhookMessage.Status.DEAD)
        logger.warning(
            "Webhook %s %s to %s is a dead letter after %d tries: %s",
            message.event_type,
            message.message_id,
            _origin(message.endpoint),
            message.attempts + 1,
            result,
        )
    else:
        change.update(next_attempt_at=now + retry_delay(message.attempts + 1))
        logger.info(
            "Webhook %s %s to %s failed (%s); try %d is due in %ds",
            message.event_type,
            message.message_id,
            _origin(message.endpoint),
            result,
            message.attempts + 2,
            retry_delay(message.attempts + 1).total_seconds(),
        )
    # Only while the claim holds: a lapsed claim's row may have gone to another worker.
    WebhookMessage.objects.filter(pk=message.pk, claimed_by=message.claimed_by).update(**change)
    return ok


def _next_due() -> datetime | None:
    """When the earliest pending delivery may go: its next try, or, while a worker
    holds it, when that worker's claim lapses (should the worker have died)."""
    due = Greatest("next_attempt_at", Coalesce("claimed_until", "next_attempt_at"))
    return _heads().annotate(due=due).order_by("due").values_list("due", flat=True).first()


def sweep() -> None:
    """Queue a delivery run if deliveries are due (from cron, in case the process that
    wrote an event died before it could queue one)."""
    if settings.WEBHOOK_ENDPOINTS and _heads().filter(next_attempt_at__lte=timezone.now()).exists():
        kick()


def _origin(url: str) -> str:
    """An endpoint as logs show it: scheme, host and port, never a path or query (which
    may hold a receiver's token)."""
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.netloc.decode()}"
