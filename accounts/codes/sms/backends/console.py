"""Prints each message to standard output. For local development only."""

from __future__ import annotations

import sys
import threading

from accounts.codes.sms.backends.base import BaseSMSBackend, SMSMessage


class SMSBackend(BaseSMSBackend):
    _lock = threading.Lock()

    def __init__(self, *, stream=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.stream = stream or sys.stdout

    def send(self, message: SMSMessage) -> None:
        text = f"--- SMS to {message.to} ---\n{message.body}\n{'-' * 30}\n"
        with self._lock:
            self.stream.write(text)
            self.stream.flush()
