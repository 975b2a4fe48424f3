"""SMS delivery through pluggable backends, in the style of `django.core.mail`.

A backend is a short name (`console`, `file`, `locmem`, `dummy`, `kavenegar`,
`twilio`, `smsir`, `ghasedak`, `melipayamak`, `ippanel`, `http`) or the dotted path
of a `BaseSMSBackend` subclass. Named providers, each a backend with its options, and
the routes numbers take through them are in `providers`; `SMS_BACKEND` alone is a
one-provider route.
"""

from __future__ import annotations

from accounts.codes.sms.backends.base import BaseSMSBackend, SMSMessage, SMSSendError
from accounts.codes.sms.providers import BACKEND_ALIASES

__all__ = ["BACKEND_ALIASES", "BaseSMSBackend", "SMSMessage", "SMSSendError", "outbox"]

# Messages sent through the locmem backend, for tests.
outbox: list[SMSMessage] = []
