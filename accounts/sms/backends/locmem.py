"""Keeps messages in `accounts.sms.outbox`, for tests."""

from __future__ import annotations

from .base import BaseSMSBackend, SMSMessage


class SMSBackend(BaseSMSBackend):
    def send(self, message: SMSMessage) -> None:
        from accounts import sms

        sms.outbox.append(message)
