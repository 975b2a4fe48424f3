"""The stored audit trail: one `AuditEvent` row per security event, for support and
fraud triage (read in the admin), kept AUDIT_RETENTION_DAYS.

Rows come from the signals of `accounts.events` (so only what committed is recorded)
and from the admin's own log. Writing them costs a request no round trip of its own:
each process collects its rows in memory and a thread of its own writes them in one
statement (`sql.audit`: COPY on PostgreSQL), every AUDIT_FLUSH_SECONDS or as soon as
AUDIT_BATCH_SIZE are waiting, and at exit. A process killed outright (SIGKILL, out of
memory) loses at most the rows of its last AUDIT_FLUSH_SECONDS. With
AUDIT_FLUSH_SECONDS=0 each row is written as it happens, one INSERT each.

The client's network comes from the use case that announced the event (its
`client_ip`), through a context variable `flows.use_case.use_case` sets.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django.dispatch import Signal
from django.utils import timezone

from accounts.abuse.networks import network_of
from accounts.identity.phone import mask_phone
from accounts.models import AuditEvent
from accounts.outbound import events
from accounts.sql import audit_event as audit_sql

logger = logging.getLogger("accounts.audit")

Kind = AuditEvent.Kind

# The address of the client whose request is being served ("" outside one).
client_address: ContextVar[str] = ContextVar("audit_client_address", default="")

# Rows waiting beyond this many batches are dropped (and the drop logged at ERROR): a
# database that stays down for long cannot grow a process without bound.
MAX_WAITING_BATCHES = 20


class _Writer:
    """The rows of this process waiting to be written, and the thread that writes them.

    A row waits as a plain tuple: all that a request pays is building it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rows: list[tuple] = []
        self.wake = threading.Event()
        self.pid = -1

    def add(self, row: tuple) -> None:
        with self.lock:
            if self.pid != os.getpid():  # the first row of this process (or of a fork)
                self.pid, self.rows = os.getpid(), []
                threading.Thread(target=self._run, name="audit-writer", daemon=True).start()
            self.rows.append(row)
            if len(self.rows) == settings.AUDIT_BATCH_SIZE:
                self.wake.set()

    def _run(self) -> None:
        while True:
            self.wake.wait(settings.AUDIT_FLUSH_SECONDS if settings.AUDIT_FLUSH_SECONDS > 0 else 1)
            self.wake.clear()
            if self.rows:
                self.flush()
                # This thread's connection is not held between batches (a pool, or
                # PgBouncer, counts every worker's).
                connection.close()

    def flush(self) -> int:
        with self.lock:
            rows, self.rows = self.rows, []
        written = 0
        for start in range(0, len(rows), settings.AUDIT_BATCH_SIZE):
            batch = rows[start : start + settings.AUDIT_BATCH_SIZE]
            try:
                audit_sql.insert(batch)
            except DatabaseError as error:
                self._keep(rows[start:], error)
                break
            written += len(batch)
        return written

    def _keep(self, rows: list[tuple], error: DatabaseError) -> None:
        with self.lock:
            self.rows[:0] = rows
            room = MAX_WAITING_BATCHES * settings.AUDIT_BATCH_SIZE
            dropped = max(0, len(self.rows) - room)
            del self.rows[:dropped]
        if dropped:
            logger.error("Audit rows dropped, the database refused them: %d", dropped)
        else:
            logger.warning("Audit rows not written yet (%s); kept", type(error).__name__)


_writer = _Writer()
atexit.register(_writer.flush)


def flush() -> int:
    """Write this process's waiting rows now; how many were written."""
    return _writer.flush()


def record(
    event: str,
    *,
    outcome: str = "ok",
    account_id: int | None = None,
    phone_number: str = "",
    session_id: str | uuid.UUID | None = None,
    detail: str = "",
    client: str | None = None,
) -> None:
    """Add one event to the trail (at once, or with this process's next batch)."""
    address = client_address.get() if client is None else client
    row = (
        time.time(),
        event,
        outcome[:40],
        account_id,
        phone_number[:32],
        network_of(address) if address and address != "-" else "",
        session_id,
        detail[:200],
    )
    if settings.AUDIT_FLUSH_SECONDS <= 0:
        audit_sql.insert([row])
    else:
        _writer.add(row)


def purge() -> int:
    """Delete the events older than AUDIT_RETENTION_DAYS."""
    cutoff = timezone.now() - timedelta(days=settings.AUDIT_RETENTION_DAYS)
    deleted, _ = AuditEvent.objects.filter(at__lt=cutoff).delete()
    return deleted


# --- what the signals say, as rows ---------------------------------------------------------


def _signed_up(*, user, phone_number, method, **_):
    record(Kind.SIGNED_UP, account_id=user.pk, phone_number=phone_number, detail=method)


def _logged_in(*, user, phone_number, method, session_id, **_):
    record(
        Kind.LOGGED_IN,
        account_id=user.pk,
        phone_number=phone_number,
        session_id=session_id,
        detail=method,
    )


def _login_failed(*, phone_number, method, reason, **_):
    record(Kind.LOGIN_FAILED, outcome=reason, phone_number=phone_number, detail=method)


def _locked(*, user_id, phone_number, locked_until, **_):
    until = f"until {locked_until.isoformat(timespec='seconds')}"
    record(Kind.ACCOUNT_LOCKED, account_id=user_id, phone_number=phone_number, detail=until)


def _code_sent(*, phone_number, backend, test_number, **_):
    detail = "test number" if test_number else backend
    record(Kind.CODE_SENT, phone_number=phone_number, detail=detail)


def _code_not_sent(*, backend, outcome, phone_number="", **_):
    record(Kind.CODE_REFUSED, outcome=outcome, phone_number=phone_number, detail=backend)


def _reused(*, user_id, session_id, **_):
    record(
        Kind.REFRESH_TOKEN_REUSED,
        outcome="session ended",
        account_id=user_id,
        session_id=session_id,
    )


def _revoked(*, user_id, session_id, reason, **_):
    record(Kind.SESSION_REVOKED, outcome=reason, account_id=user_id, session_id=session_id)


def _password_set(*, user, changed, **_):
    kind = Kind.PASSWORD_CHANGED if changed else Kind.PASSWORD_SET
    record(kind, account_id=user.pk, phone_number=mask_phone(user.phone_number))


def _password_removed(*, user, **_):
    record(Kind.PASSWORD_REMOVED, account_id=user.pk, phone_number=mask_phone(user.phone_number))


def _number_changed(*, user, old_phone_number, new_phone_number, **_):
    record(
        Kind.PHONE_NUMBER_CHANGED,
        account_id=user.pk,
        phone_number=new_phone_number,
        detail=f"from {old_phone_number}",
    )


def _deleted(*, user_id, phone_number, **_):
    record(Kind.ACCOUNT_DELETED, account_id=user_id, phone_number=phone_number)


RECEIVERS: dict[Signal, Callable[..., None]] = {
    events.user_signed_up: _signed_up,
    events.user_logged_in: _logged_in,
    events.login_failed: _login_failed,
    events.account_locked: _locked,
    events.code_sent: _code_sent,
    events.code_not_sent: _code_not_sent,
    events.refresh_token_reused: _reused,
    events.session_revoked: _revoked,
    events.password_set: _password_set,
    events.password_removed: _password_removed,
    events.phone_number_changed: _number_changed,
    events.account_deleted: _deleted,
}


def connect() -> None:
    for signal, receiver in RECEIVERS.items():
        signal.connect(receiver, dispatch_uid=f"audit.{receiver.__name__}")
