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

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


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


# Every other kind: name, code, HTTP status, message, and its REST alias. The first
# group is raised by the use cases, the second by the doors, the third by GraphQL alone
# (the document, its variables, the caps on a document: graphql-core's own message).
_KINDS = (
    ("InvalidPhoneNumber", "INVALID_PHONE_NUMBER", 400, _("Enter a valid mobile number.")),
    (
        "InvalidCredentials",
        "INVALID_CREDENTIALS",
        401,
        _("The phone number or password is incorrect, or the code has expired."),
    ),
    # simplejwt's code for every token error on REST: older clients switch on it.
    (
        "InvalidToken",
        "INVALID_TOKEN",
        401,
        _("The token is invalid or has expired."),
        "token_not_valid",
    ),
    ("Unauthenticated", "UNAUTHENTICATED", 401, _("Authentication credentials were not provided.")),
    (
        "SMSDeliveryFailed",
        "SMS_DELIVERY_FAILED",
        503,
        _("The code could not be sent. Try again shortly."),
    ),
    ("InvalidInput", "INVALID_INPUT", 400, _("The request body is invalid.")),
    (
        "StepUpRequired",
        "STEP_UP_REQUIRED",
        401,
        _("Confirm it is you: send a code to your number and give it, or give your password."),
    ),
    (
        "ServiceUnavailable",
        "SERVICE_UNAVAILABLE",
        503,
        _("The service is temporarily unavailable. Try again shortly."),
    ),
    (
        "PhoneNumberTaken",
        "PHONE_NUMBER_TAKEN",
        409,
        _("Another account already has this phone number."),
    ),
    ("BadRequest", "BAD_REQUEST", 400, _("Bad request.")),
    (
        "CrossSiteRequest",
        "CROSS_SITE_REQUEST",
        403,
        _("Requests from other sites' pages are not accepted here."),
    ),
    (
        "UnsupportedMediaType",
        "UNSUPPORTED_MEDIA_TYPE",
        415,
        _("Send the request as JSON (Content-Type: application/json), the document in the body."),
    ),
    ("PermissionDenied", "PERMISSION_DENIED", 403, _("Permission denied.")),
    ("NotFound", "NOT_FOUND", 404, _("Not found.")),
    ("MethodNotAllowed", "METHOD_NOT_ALLOWED", 405, _("Method not allowed.")),
    ("RequestTooLarge", "REQUEST_TOO_LARGE", 413, _("The request body is too large.")),
    ("InternalError", "INTERNAL_ERROR", 500, _("Internal server error.")),
    ("GraphQLValidationFailed", "GRAPHQL_VALIDATION_FAILED", 400, ""),
    ("BadUserInput", "BAD_USER_INPUT", 400, ""),
    ("QueryTooComplex", "QUERY_TOO_COMPLEX", 400, ""),
)


def _kind(
    name: str, code: str, status: int, message: str | Promise, rest_code: str = ""
) -> type[AccountsError]:
    attributes = {"code": code, "status": status, "default_message": message}
    attributes.update(rest_code=rest_code or None, __module__=__name__)
    return type(name, (AccountsError,), attributes)


# In `_KINDS`' order (tests/test_layout.py checks that each name is its class's).
(
    InvalidPhoneNumber,
    InvalidCredentials,
    InvalidToken,
    Unauthenticated,
    SMSDeliveryFailed,
    InvalidInput,
    StepUpRequired,
    ServiceUnavailable,
    PhoneNumberTaken,
    BadRequest,
    CrossSiteRequest,
    UnsupportedMediaType,
    PermissionDenied,
    NotFound,
    MethodNotAllowed,
    RequestTooLarge,
    InternalError,
    GraphQLValidationFailed,
    BadUserInput,
    QueryTooComplex,
) = (_kind(*kind) for kind in _KINDS)


def catalogue() -> dict[str, type[AccountsError]]:
    """Every error kind by its code."""
    return {kind.code: kind for kind in AccountsError.__subclasses__()}
