from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SMSMessage:
    to: str  # E.164
    body: str
    code: str = ""  # the one-time code alone, for providers that fill a template with it


class SMSSendError(Exception):
    """A provider refused or failed a message. `reason` is safe to log: it never holds
    the message text or the code.

    What the failure means for the send:
    - `maybe_sent`: the provider may have texted it all the same (it timed out after
      the request went, or answered 5xx). The code is kept: it may be on the phone.
    - `final`: the provider refused the number itself (invalid, not a mobile,
      unsubscribed): another provider would refuse it too, so none is tried.
    - neither: the provider could not send now (unreachable, no credit, throttled, its
      key or template refused): the next provider of the route gets the same code.
    - `retry_after`: the provider asked to be left alone this many seconds (429).
    """

    def __init__(
        self,
        reason: str,
        *,
        maybe_sent: bool = False,
        final: bool = False,
        retry_after: float | None = None,
    ) -> None:
        self.reason = reason
        self.maybe_sent = maybe_sent
        self.final = final
        self.retry_after = retry_after
        super().__init__(reason)


class BaseSMSBackend:
    """Base class for SMS backends.

    A provider subclasses this and implements `send`, raising `SMSSendError` (or any
    exception) when the message was not accepted. The exception's message must not
    contain the body. Keyword arguments are the provider's options (`SMS_PROVIDERS`);
    an instance is made once per process and provider, and may be called from several
    threads at once.
    """

    def __init__(self, **options) -> None:
        self.options = options

    def option(self, name: str, default=None):
        """The provider's option `name` (from `SMS_PROVIDERS`), else `default`."""
        return self.options.get(name, default)

    # The options a provider cannot send without, each with the setting that stands in
    # for it when SMS_PROVIDERS does not give it ("" for none).
    required: tuple[tuple[str, str], ...] = ()

    def needs(self) -> list[str]:
        """The options this provider lacks to send anything (the system checks)."""
        from django.conf import settings

        return [
            f"{option} (or {setting})" if setting else option
            for option, setting in self.required
            if not self.option(option, getattr(settings, setting) if setting else None)
        ]

    def send(self, message: SMSMessage) -> None:
        raise NotImplementedError("subclasses of BaseSMSBackend must override send()")
