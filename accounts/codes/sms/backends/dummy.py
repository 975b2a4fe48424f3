"""Accepts every message and does nothing with it, like Django's dummy email backend.
For load tests of the service itself."""

from __future__ import annotations

from accounts.codes.sms.backends.base import BaseSMSBackend, SMSMessage


class SMSBackend(BaseSMSBackend):
    def send(self, message: SMSMessage) -> None:
        return None
