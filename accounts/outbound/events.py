"""What happened, announced by the service layer once its transaction has committed.

Metrics, webhooks and audit trails connect receivers to these Django signals; doors and
use cases never call them directly. Arguments are users (or their ids), numbers (masked
here, by `announce`, the one place they are) and plain values, never a code, a password
or a token. A receiver that raises is logged with its traceback and does not fail the
request, nor stop the other receivers.

Every signal is sent with `sender=None`; receivers take `**kwargs`, as Django asks.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction
from django.dispatch import Signal

from accounts.identity.phone import mask_phone

# --- for integrators (README, "Events") -------------------------------------------------

# phone_number (masked), backend (SMS_BACKEND, or "test-number"), test_number (bool)
code_sent = Signal()
# user, phone_number (masked), method ("code", or "admin" for an account staff added)
user_signed_up = Signal()
# user, phone_number (masked), method ("code" | "password"), session_id (str, or None for
# the admin's login)
user_logged_in = Signal()
# phone_number (masked, or "-"), method ("code" | "password"), reason (the error code)
login_failed = Signal()
# user, changed (False the first time a password is set)
password_set = Signal()
# user: the fixed password was removed; the account logs in with codes alone
password_removed = Signal()
# user, old_phone_number, new_phone_number (both masked)
phone_number_changed = Signal()
# user_id, phone_number (masked): the account and everything tied to its number are gone
account_deleted = Signal()
# user_id, session_id (str), reason ("logout", "user", "password_changed", ...)
session_revoked = Signal()
# user_id, session_id (str): a rotated refresh token came back; the session has ended
refresh_token_reused = Signal()
# user_id, phone_number (masked), locked_until (datetime): a wrong password locked the
# account (or lengthened its lock)
account_locked = Signal()

# --- for operators (metrics) ------------------------------------------------------------

# backend, outcome ("failed", "invalid_number", or "refused_<limit>"), phone_number
# (masked, or "-")
code_not_sent = Signal()
# limit (the limit's name, as in accounts_rate_limited_total)
rate_limited = Signal()
# backend, seconds (float), ok (bool): one call of the SMS backend
sms_delivery = Signal()
# outcome ("rotated", "retried", "refused", "reuse_detected")
token_refreshed = Signal()


# The arguments that carry a number: masked before any receiver or writer sees them.
_NUMBERS = ("phone_number", "old_phone_number", "new_phone_number")

# What must be written with the change itself (the webhook outbox): called at once, in
# the announcing transaction, and a failure fails the change.
_writers: list[Callable[[Signal, dict], None]] = []


def in_transaction(writer: Callable[[Signal, dict], None]) -> None:
    """Have `writer(signal, kwargs)` called for every announcement, inside the change's
    transaction, before it commits."""
    if writer not in _writers:
        _writers.append(writer)


def announce(signal: Signal, **kwargs) -> None:
    """Send `signal` when the current transaction commits (at once outside one).

    `send_robust` runs every receiver even when one raises; Django logs each failure
    at ERROR with its traceback (logger `django.dispatch`). The writers registered with
    `in_transaction` run first, at once.
    """
    for key in _NUMBERS:
        number = kwargs.get(key)
        # Not `in (None, "-")`: a PhoneNumber's == parses the other side as a number.
        if number is not None and not (isinstance(number, str) and number == "-"):
            kwargs[key] = mask_phone(number)
    for writer in _writers:
        writer(signal, kwargs)
    if signal.has_listeners():  # nobody listening: nothing to queue
        transaction.on_commit(lambda: signal.send_robust(sender=None, **kwargs))
