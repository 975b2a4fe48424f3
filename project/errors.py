"""How an error looks to a client, for every error in the catalogue (`accounts.errors`):
`{"detail", "code"}` with its HTTP status on REST, `{"errors": [...]}` on /graphql. The
doors and Django's own error handlers all answer through here, in JSON written as UTF-8
(a Persian message reads as Persian, not as `\\u` escapes)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from accounts.errors import (
    AccountsError,
    BadRequest,
    InternalError,
    MethodNotAllowed,
    NotFound,
    PermissionDenied,
    RateLimited,
    RequestTooLarge,
    Unauthenticated,
)
from project.routes import is_graphql

logger = logging.getLogger("accounts")

View = Callable[..., HttpResponse]


def json_response(body: Any, status: int = 200) -> JsonResponse:
    """JSON as UTF-8 text, without `\\u` escapes."""
    return JsonResponse(body, status=status, safe=False, json_dumps_params={"ensure_ascii": False})


def rest_response(error: AccountsError) -> JsonResponse:
    """The REST door's answer to `error`."""
    # The error's data (`retry_after`, a challenge's `provider` and `site_key`) beside it.
    body: dict[str, Any] = {"detail": str(error.message), "code": error.rest(), **error.extra}
    response = json_response(body, status=error.status)
    if isinstance(error, RateLimited):
        response["Retry-After"] = str(error.retry_after)
    if isinstance(error, Unauthenticated):
        response["WWW-Authenticate"] = 'Bearer realm="accounts"'
    return response


def graphql_error(error: AccountsError, **extensions: Any) -> dict[str, Any]:
    """One entry of a GraphQL answer's `errors`, without its locations and path."""
    return {
        "message": str(error.message),
        "extensions": {"code": error.code, **extensions},
    }


def error_response(request: HttpRequest | None, error: AccountsError) -> JsonResponse:
    """An error answered before (or instead of) a door's view, in that door's shape."""
    if request is not None and is_graphql(request.path_info):
        return json_response({"errors": [graphql_error(error)]}, status=error.status)
    return rest_response(error)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    # A Host header outside ALLOWED_HOSTS and the like: the client's mistake, logged as
    # such (Django's own security logger would log each one as an ERROR with a traceback).
    logger.info("bad request: %s", type(exception).__name__ if exception else "-")
    return error_response(request, BadRequest())


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error_response(request, PermissionDenied())


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error_response(request, NotFound())


def server_error(request: HttpRequest) -> JsonResponse:
    return error_response(request, InternalError())


def too_large_response(request: HttpRequest | None) -> JsonResponse:
    return error_response(request, RequestTooLarge())


def endpoint(*methods: str) -> Callable[[View], View]:
    """Allow only `methods`, exempt from CSRF (no cookies are read), map errors."""

    def decorate(view: View) -> View:
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method not in methods:
                response = rest_response(MethodNotAllowed())
                response["Allow"] = ", ".join(methods)
                return response
            try:
                return view(request, *args, **kwargs)
            except AccountsError as error:
                return rest_response(error)

        return wrapper

    return decorate
