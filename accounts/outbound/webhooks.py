"""Webhooks by the Standard Webhooks specification (https://www.standardwebhooks.com):
the events, and the outbox they are written to.

An event is written to the outbox (`WebhookMessage`, one row per endpoint) while the
change it reports is being made, in the same transaction: a change that rolls back
leaves no event, and a committed one cannot lose its event to a crash. Once it commits,
a delivery run is queued for `manage.py db_worker` (`accounts.webhook_delivery`).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import WebhookMessage
from accounts.outbound import events
from accounts.outbound.webhook_delivery import PENDING, SECRET_PREFIX, kick, secrets


def _account(user) -> dict:
    return {"user_id": str(user.pk)}


def _created(*, user, method, **_) -> dict:
    return {**_account(user), "phone_number": user.phone_number.as_e164, "method": method}


def _session(*, user_id, session_id, reason="reuse_detected", **_) -> dict:
    return {"user_id": str(user_id), "session_id": session_id, "reason": reason}


def _password(*, user, changed, **_) -> dict:
    return {**_account(user), "had_password": changed}


def _number(*, user, old_phone_number, **_) -> dict:
    return {
        **_account(user),
        "phone_number": user.phone_number.as_e164,
        "old_phone_number": old_phone_number,
    }


def _locked(*, user_id, locked_until: datetime, **_) -> dict:
    return {"user_id": str(user_id), "locked_until": _timestamp(locked_until)}


# The events sent, by the signal that announces each, and their `data` (docs/webhooks/).
EVENTS: dict[object, tuple[str, Callable[..., dict]]] = {
    events.user_signed_up: ("user.created", _created),
    events.account_deleted: ("user.deleted", lambda *, user_id, **_: {"user_id": str(user_id)}),
    events.session_revoked: ("session.revoked", _session),
    events.refresh_token_reused: ("refresh_token.reused", _session),
    events.password_set: ("password.changed", _password),
    events.password_removed: ("password.removed", lambda *, user, **_: _account(user)),
    events.phone_number_changed: ("phone_number.changed", _number),
    events.account_locked: ("account.locked", _locked),
}


def enabled() -> bool:
    return bool(settings.WEBHOOK_ENDPOINTS)


def atomic() -> AbstractContextManager:
    """A transaction around a change whose event may go to the outbox; none is opened
    (nor its round trips paid) while webhooks are off."""
    return transaction.atomic() if enabled() else nullcontext()


def record(signal, arguments: dict) -> None:
    """Write the event `signal` announces to the outbox, in the current transaction
    (`events.announce` calls this before the change commits)."""
    if signal not in EVENTS or not enabled():
        return
    event_type, data = EVENTS[signal]
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        raise RuntimeError(f"{event_type} announced outside a transaction")
    now, payload = timezone.now(), data(**arguments)
    body = json.dumps(
        {"type": event_type, "timestamp": _timestamp(now), "data": payload},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    account_id = int(payload["user_id"])
    message_id = f"msg_{uuid.uuid4().hex}"
    retry_until = now + timedelta(seconds=settings.WEBHOOK_RETRY_FOR)
    WebhookMessage.objects.bulk_create(
        WebhookMessage(
            message_id=message_id,
            endpoint=endpoint,
            event_type=event_type,
            account_id=account_id,
            body=body,
            created_at=now,
            next_attempt_at=now,
            retry_until=retry_until,
        )
        for endpoint in settings.WEBHOOK_ENDPOINTS
    )
    # One delivery run queued per transaction, however many events it wrote.
    if not any(callback is kick for _, callback, _ in connection.run_on_commit):
        transaction.on_commit(kick)


def connect() -> None:
    events.in_transaction(record)


def replay(deliveries: QuerySet[WebhookMessage]) -> int:
    """Send `deliveries` again (dead letters, or delivered ones a receiver lost), with
    their own ids and a fresh retry window; how many were queued."""
    now = timezone.now()
    with transaction.atomic():
        count = deliveries.exclude(status=PENDING).update(
            status=PENDING,
            attempts=0,
            next_attempt_at=now,
            retry_until=now + timedelta(seconds=settings.WEBHOOK_RETRY_FOR),
            delivered_at=None,
            claimed_by=None,
            claimed_until=None,
        )
        if count:
            transaction.on_commit(kick)
    return count


def purge() -> int:
    """Delete delivered and dead deliveries older than WEBHOOK_RETENTION_DAYS."""
    cutoff = timezone.now() - timedelta(days=settings.WEBHOOK_RETENTION_DAYS)
    deleted, _ = (
        WebhookMessage.objects.exclude(status=PENDING).filter(created_at__lt=cutoff).delete()
    )
    return deleted


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def problems() -> list[tuple[str, bool]]:
    """What is wrong with the webhook settings, each with whether it stops start-up
    (True) or is a warning (False)."""
    if not settings.WEBHOOK_ENDPOINTS:
        return []
    found = []
    for endpoint in settings.WEBHOOK_ENDPOINTS:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            found.append((f"WEBHOOK_ENDPOINTS: {endpoint!r} is not an http(s) URL.", True))
        elif parts.scheme == "http" and not _loopback(parts.hostname):
            found.append(
                (
                    f"WEBHOOK_ENDPOINTS: http://{parts.hostname} is plain HTTP: payloads "
                    "(account ids, numbers) cross the network unencrypted.",
                    False,
                )
            )
    configured = secrets()
    if not configured:
        found.append(("WEBHOOK_SECRET must be set when WEBHOOK_ENDPOINTS is.", True))
    for secret in configured:
        try:
            key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if not secret.startswith(SECRET_PREFIX) or not 24 <= len(key) <= 64:
            found.append(
                ("WEBHOOK_SECRET: each secret is whsec_ and 24 to 64 bytes in base64.", True)
            )
    if settings.WEBHOOK_MAX_RETRY_DELAY < settings.WEBHOOK_FIRST_RETRY_DELAY:
        found.append(("WEBHOOK_MAX_RETRY_DELAY must be at least WEBHOOK_FIRST_RETRY_DELAY.", True))
    if settings.WEBHOOK_RETRY_FOR < 0 or settings.WEBHOOK_TIMEOUT <= 0:
        found.append(("WEBHOOK_RETRY_FOR must be 0 or more, WEBHOOK_TIMEOUT above 0.", True))
    return found


def _loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
