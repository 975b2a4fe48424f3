from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SMSMessage:
    to: str  # E.164
    body: str
    code: str = ""  # the one-time code alone, for providers that fill a template with it


class SMSSendError(Exception):
    """A provider refused or failed a message. `reason` is safe to log: it never holds
    the message text or the code."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class BaseSMSBackend:
    """Base class for SMS backends.

    A provider subclasses this and implements `send`, raising an exception when the
    message was not accepted. The exception's message must not contain the body.
    """

    def __init__(self, **kwargs) -> None:
        pass

    def send(self, message: SMSMessage) -> None:
        raise NotImplementedError("subclasses of BaseSMSBackend must override send()")
