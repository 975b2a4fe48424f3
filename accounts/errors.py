"""The one family of domain errors.

Each error has a stable machine code clients can switch on, an HTTP status for the
REST door, and a message for people in the request's language (English or Persian).
Neither door defines errors of its own: the GraphQL view and the REST views each map
this family in one place.
"""

from __future__ import annotations

import math
from typing import Any

from django.utils.translation import gettext_lazy as _


class AccountsError(Exception):
    code: str = "ERROR"
    status: int = 400
    message: str = _("The request could not be completed.")

    def __init__(self, message: str | None = None, *, reason: str = "", **extra: Any) -> None:
        self.message = message or self.message
        # Why, for the log only: clients see the same answer whatever the reason.
        self.reason = reason
        self.extra = extra
        super().__init__(self.message)


class InvalidPhoneNumber(AccountsError):
    code = "INVALID_PHONE_NUMBER"
    message = _("Enter a valid mobile number.")


class InvalidCredentials(AccountsError):
    code = "INVALID_CREDENTIALS"
    status = 401
    message = _("The phone number or password is incorrect, or the code has expired.")


class RateLimited(AccountsError):
    code = "RATE_LIMITED"
    status = 429
    message = _("Too many requests. Try again later.")

    def __init__(
        self, retry_after: float, message: str | None = None, *, reason: str = "", limit: str = ""
    ) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        # Which limit refused, for metrics: a name from accounts_rate_limited_total's labels.
        self.limit = limit
        super().__init__(message, reason=reason, retry_after=self.retry_after)


class InvalidToken(AccountsError):
    code = "INVALID_TOKEN"
    status = 401
    message = _("The token is invalid or has expired.")


class Unauthenticated(AccountsError):
    code = "UNAUTHENTICATED"
    status = 401
    message = _("Authentication credentials were not provided.")


class InvalidPassword(AccountsError):
    code = "INVALID_PASSWORD"
    message = _("The password does not meet the requirements.")

    def __init__(
        self, messages: list[str], message: str | None = None, *, reason: str = ""
    ) -> None:
        self.messages = list(messages)
        super().__init__(message or " ".join(self.messages), reason=reason, messages=self.messages)


class SMSDeliveryFailed(AccountsError):
    code = "SMS_DELIVERY_FAILED"
    status = 503
    message = _("The code could not be sent. Try again shortly.")


class InvalidInput(AccountsError):
    """A field is missing or has the wrong type (REST bodies)."""

    code = "INVALID_INPUT"
    message = _("The request body is invalid.")


class ServiceUnavailable(AccountsError):
    """The database or the cache did not answer in time."""

    code = "SERVICE_UNAVAILABLE"
    status = 503
    message = _("The service is temporarily unavailable. Try again shortly.")
