"""SMS delivery through a pluggable backend, in the style of `django.core.mail`.

`SMS_BACKEND` names a backend: a short name (`console`, `file`, `locmem`, `dummy`,
`kavenegar`, `twilio`) or the dotted path of a `BaseSMSBackend` subclass.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string

from accounts.codes.sms.backends.base import BaseSMSBackend, SMSMessage, SMSSendError

__all__ = ["BaseSMSBackend", "SMSMessage", "SMSSendError", "get_backend", "send_sms", "outbox"]

BACKEND_ALIASES = {
    "console": "accounts.codes.sms.backends.console.SMSBackend",
    "file": "accounts.codes.sms.backends.filebased.SMSBackend",
    "locmem": "accounts.codes.sms.backends.locmem.SMSBackend",
    "dummy": "accounts.codes.sms.backends.dummy.SMSBackend",
    "kavenegar": "accounts.codes.sms.backends.kavenegar.SMSBackend",
    "twilio": "accounts.codes.sms.backends.twilio.SMSBackend",
}

# Messages sent through the locmem backend, for tests.
outbox: list[SMSMessage] = []


def get_backend(backend: str | None = None, **kwargs) -> BaseSMSBackend:
    name = backend or settings.SMS_BACKEND
    backend_class = import_string(BACKEND_ALIASES.get(name, name))
    return backend_class(**kwargs)


def send_sms(to: str, body: str, code: str = "") -> None:
    """Send one message; raises whatever the backend raises on failure."""
    get_backend().send(SMSMessage(to=to, body=body, code=code))
