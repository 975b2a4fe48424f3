"""The error catalogue: every code a client can see, from either door, in one place.

Each code has a stable name clients switch on (GraphQL's `extensions.code`, REST's
`code`, or its REST alias where older clients expect another), an HTTP status, and a
message for people in the request's language (English or Persian). Use cases raise the
domain errors; the doors raise or render the door errors; both render every one of them
through `project.errors`, so no door defines a code or a message of its own.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from django.db import InterfaceError, OperationalError
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError as RedisFull
from redis.exceptions import ReadOnlyError as RedisReadOnly
from redis.exceptions import TimeoutError as RedisTimeoutError

# What counts as "a backing service is down", as opposed to a bug: answered
# SERVICE_UNAVAILABLE (503), never INTERNAL_ERROR.
OUTAGES: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    RedisConnectionError,
    RedisTimeoutError,
    RedisFull,  # maxmemory reached under noeviction: writes refused
    RedisReadOnly,  # a failover left the address on a replica
)


class AccountsError(Exception):
    """An error a client may see. Subclasses set `code`, `status` and `message` (and
    `rest_code` where the REST door's clients expect another name)."""

    code: ClassVar[str] = "ERROR"
    status: ClassVar[int] = 400
    default_message: ClassVar[str | Promise] = _("The request could not be completed.")
    rest_code: ClassVar[str | None] = None

    def __init__(
        self, message: str | Promise | None = None, *, reason: str = "", **extra: Any
    ) -> None:
        self.message = message or self.default_message
        # Why, for the log only: clients see the same answer whatever the reason.
        self.reason = reason
        self.extra = extra
        super().__init__(self.message)

    @classmethod
    def rest(cls) -> str:
        """The code as the REST door says it."""
        return cls.rest_code or cls.code


class RateLimited(AccountsError):
    code = "RATE_LIMITED"
    status = 429
    default_message = _("Too many requests. Try again later.")

    def __init__(
        self, retry_after: float, message: str | None = None, *, reason: str = "", limit: str = ""
    ) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        # Which limit refused, for metrics: a name from accounts_rate_limited_total's labels.
        self.limit = limit
        super().__init__(message, reason=reason, retry_after=self.retry_after)


class ChallengeRequired(AccountsError):
    """A send that needs a passed bot check: the client shows `provider`'s widget with
    `site_key` and sends the request again with the token it yields."""

    code = "CHALLENGE_REQUIRED"
    status = 403
    default_message = _(
        "Confirm you are a person: complete the check, then send the request again with its token."
    )

    def __init__(
        self,
        message: str | None = None,
        *,
        reason: str = "",
        limit: str = "",
        provider: str = "",
        site_key: str = "",
    ) -> None:
        # The risk signal that asked for the check, for metrics (as RateLimited.limit).
        self.limit = limit
        super().__init__(message, reason=reason, provider=provider, site_key=site_key)


class InvalidPassword(AccountsError):
    """The new password fails a rule; `messages` says which, in the request's language."""

    code = "INVALID_PASSWORD"
    default_message = _("The password does not meet the requirements.")

    def __init__(
        self, messages: list[str], message: str | None = None, *, reason: str = ""
    ) -> None:
        self.messages = list(messages)
        super().__init__(message or " ".join(self.messages), reason=reason, messages=self.messages)


# Raised by the use cases.


class InvalidPhoneNumber(AccountsError):
    code = "INVALID_PHONE_NUMBER"
    status = 400
    default_message = _("Enter a valid mobile number.")


class InvalidCredentials(AccountsError):
    code = "INVALID_CREDENTIALS"
    status = 401
    default_message = _("The phone number or password is incorrect, or the code has expired.")


class InvalidToken(AccountsError):
    code = "INVALID_TOKEN"
    status = 401
    default_message = _("The token is invalid or has expired.")
    # simplejwt's code for every token error on REST: older clients switch on it.
    rest_code = "token_not_valid"


class Unauthenticated(AccountsError):
    code = "UNAUTHENTICATED"
    status = 401
    default_message = _("Authentication credentials were not provided.")


class SMSDeliveryFailed(AccountsError):
    code = "SMS_DELIVERY_FAILED"
    status = 503
    default_message = _("The code could not be sent. Try again shortly.")


class InvalidInput(AccountsError):
    code = "INVALID_INPUT"
    status = 400
    default_message = _("The request body is invalid.")


class StepUpRequired(AccountsError):
    code = "STEP_UP_REQUIRED"
    status = 401
    default_message = _(
        "Confirm it is you: send a code to your number and give it, or give your password."
    )


class ServiceUnavailable(AccountsError):
    code = "SERVICE_UNAVAILABLE"
    status = 503
    default_message = _("The service is temporarily unavailable. Try again shortly.")


class PhoneNumberTaken(AccountsError):
    code = "PHONE_NUMBER_TAKEN"
    status = 409
    default_message = _("Another account already has this phone number.")


# Raised by the doors.


class BadRequest(AccountsError):
    code = "BAD_REQUEST"
    status = 400
    default_message = _("Bad request.")


class CrossSiteRequest(AccountsError):
    code = "CROSS_SITE_REQUEST"
    status = 403
    default_message = _("Requests from other sites' pages are not accepted here.")


class UnsupportedMediaType(AccountsError):
    code = "UNSUPPORTED_MEDIA_TYPE"
    status = 415
    default_message = _(
        "Send the request as JSON (Content-Type: application/json), the document in the body."
    )


class PermissionDenied(AccountsError):
    code = "PERMISSION_DENIED"
    status = 403
    default_message = _("Permission denied.")


class NotFound(AccountsError):
    code = "NOT_FOUND"
    status = 404
    default_message = _("Not found.")


class MethodNotAllowed(AccountsError):
    code = "METHOD_NOT_ALLOWED"
    status = 405
    default_message = _("Method not allowed.")


class RequestTooLarge(AccountsError):
    code = "REQUEST_TOO_LARGE"
    status = 413
    default_message = _("The request body is too large.")


class InternalError(AccountsError):
    code = "INTERNAL_ERROR"
    status = 500
    default_message = _("Internal server error.")


# GraphQL's alone (the document, its variables, the caps on a document): the message is
# graphql-core's own.


class GraphQLValidationFailed(AccountsError):
    code = "GRAPHQL_VALIDATION_FAILED"
    status = 400
    default_message = ""


class BadUserInput(AccountsError):
    code = "BAD_USER_INPUT"
    status = 400
    default_message = ""


class QueryTooComplex(AccountsError):
    code = "QUERY_TOO_COMPLEX"
    status = 400
    default_message = ""


def catalogue() -> dict[str, type[AccountsError]]:
    """Every error kind by its code."""
    return {kind.code: kind for kind in AccountsError.__subclasses__()}
