"""Answers the service makes before (or instead of) a door's view: always JSON, in the
shape of the door the request came to."""

from __future__ import annotations

import logging

from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _

logger = logging.getLogger("accounts")

GRAPHQL_PATH = "/graphql"


def error_response(
    request: HttpRequest | None, status: int, code: str, message: str
) -> JsonResponse:
    """`{"errors": [...]}` on /graphql, `{"detail", "code"}` everywhere else."""
    if request is not None and request.path_info.rstrip("/") == GRAPHQL_PATH:
        body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    else:
        body = {"detail": message, "code": code}
    return JsonResponse(body, status=status)


def too_large_response(request: HttpRequest | None) -> JsonResponse:
    return error_response(request, 413, "REQUEST_TOO_LARGE", _("The request body is too large."))


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    # A Host header outside ALLOWED_HOSTS and the like: the client's mistake, logged as
    # such (Django's own security logger would log each one as an ERROR with a traceback).
    logger.info("bad request: %s", type(exception).__name__ if exception else "-")
    return error_response(request, 400, "BAD_REQUEST", _("Bad request."))


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error_response(request, 403, "PERMISSION_DENIED", _("Permission denied."))


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error_response(request, 404, "NOT_FOUND", _("Not found."))


def server_error(request: HttpRequest) -> JsonResponse:
    return error_response(request, 500, "INTERNAL_ERROR", _("Internal server error."))
