"""Keeps messages in `accounts.sms.outbox`, for tests."""

from __future__ import annotations

from accounts.codes.sms.backends.base import BaseSMSBackend, SMSMessage


class SMSBackend(BaseSMSBackend):
    def send(self, message: SMSMessage) -> None:
        from accounts.codes import sms

        sms.outbox.append(message)
