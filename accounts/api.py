"""REST compatibility URLs under /accounts/api/.

The shapes match what clients of the former djangorestframework-simplejwt endpoints
expect. Each view reads its input, calls one service and shapes the answer; every
error becomes `{"detail", "code"}` with its HTTP status in `_error_response`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from . import client_input, services
from .errors import AccountsError, InvalidInput, RateLimited, Unauthenticated
from .keys import SYMMETRIC, key_set
from .limits import client_ip
from .metrics import exposition

logger = logging.getLogger("accounts")

# simplejwt's code for every token error; older clients switch on it.
REST_CODES = {"INVALID_TOKEN": "token_not_valid"}

View = Callable[..., JsonResponse]


def _error_response(error: AccountsError) -> JsonResponse:
    body = {"detail": str(error.message), "code": REST_CODES.get(error.code, error.code)}
    if isinstance(error, RateLimited):
        body["retry_after"] = error.retry_after
    response = JsonResponse(body, status=error.status)
    if isinstance(error, RateLimited):
        response["Retry-After"] = str(error.retry_after)
    if isinstance(error, Unauthenticated):
        response["WWW-Authenticate"] = 'Bearer realm="accounts"'
    return response


def _method_not_allowed(allowed: tuple[str, ...]) -> JsonResponse:
    response = JsonResponse(
        {"detail": _("Method not allowed."), "code": "METHOD_NOT_ALLOWED"}, status=405
    )
    response["Allow"] = ", ".join(allowed)
    return response


def endpoint(*methods: str) -> Callable[[View], View]:
    """Allow only `methods`, exempt from CSRF (no cookies are read), map errors."""

    def decorate(view: View) -> View:
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> JsonResponse:
            if request.method not in methods:
                return _method_not_allowed(methods)
            try:
                return view(request, *args, **kwargs)
            except AccountsError as error:
                return _error_response(error)

        return wrapper

    return decorate


def _body(request: HttpRequest) -> dict:
    """A JSON object or a form, as a dict of fields."""
    content_type = request.content_type or ""
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        # Django decodes forms with replacement characters: no lone surrogate gets through.
        return client_input.read_form(request).dict()
    if not request.body:
        return {}
    data = client_input.loads(request.body)
    if not isinstance(data, dict):
        raise InvalidInput(_("The body must be a JSON object or a form."))
    return data


def _field(data: dict, name: str) -> str:
    value = data.get(name)
    if value is None or value == "":
        raise InvalidInput(_("%(field)s: this field is required.") % {"field": name})
    if not isinstance(value, str):
        raise InvalidInput(_("%(field)s: must be a string.") % {"field": name})
    return value


@endpoint("GET")
def user_status(request: HttpRequest, phone_number: str) -> JsonResponse:
    status = services.user_status(phone_number=phone_number, client_ip=client_ip(request))
    if not status.exists:
        return JsonResponse(
            {"detail": _("No account with this phone number."), "code": "NOT_FOUND"}, status=404
        )
    return JsonResponse({"password": status.has_password})


@endpoint("GET", "POST")
def send_otp(request: HttpRequest, phone_number: str) -> JsonResponse:
    sent = services.send_otp(phone_number=phone_number, client_ip=client_ip(request))
    return JsonResponse(
        {"details": "otp sent", "expires_in": sent.expires_in, "retry_after": sent.retry_after}
    )


@endpoint("POST")
def token_obtain(request: HttpRequest) -> JsonResponse:
    data = _body(request)
    pair = services.login(
        phone_number=_field(data, "phone_number"),
        password=_field(data, "password"),
        client_ip=client_ip(request),
        user_agent=client_input.user_agent(request),
    )
    return JsonResponse({"refresh": pair.refresh, "access": pair.access, "created": pair.created})


@endpoint("POST")
def token_refresh(request: HttpRequest) -> JsonResponse:
    pair = services.refresh(refresh_token=_field(_body(request), "refresh"))
    return JsonResponse({"access": pair.access, "refresh": pair.refresh})


@endpoint("POST")
def token_verify(request: HttpRequest) -> JsonResponse:
    services.verify(token=_field(_body(request), "token"))
    return JsonResponse({})


@endpoint("POST")
def token_blacklist(request: HttpRequest) -> JsonResponse:
    """Log out (simplejwt's name): the session of the refresh token ends."""
    services.revoke(refresh_token=_field(_body(request), "refresh"))
    return JsonResponse({})


@endpoint("GET")
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics (accounts.metrics); 404 unless METRICS_ENABLED."""
    if not settings.METRICS_ENABLED:
        return JsonResponse({"detail": _("Not found."), "code": "NOT_FOUND"}, status=404)
    services.authorize_metrics(
        authorization=request.META.get("HTTP_AUTHORIZATION", ""), client_ip=client_ip(request)
    )
    body, content_type = exposition()
    return HttpResponse(body, content_type=content_type)


@endpoint("GET")
def jwks(request: HttpRequest) -> JsonResponse:
    """The public keys that verify access tokens (RFC 7517), for other services."""
    keys = key_set()
    if keys.algorithm == SYMMETRIC:
        return JsonResponse(
            {
                "detail": _(
                    "Access tokens are signed with HS256, a shared secret: there is no public "
                    "key to publish. Set JWT_ALGORITHM to ES256, EdDSA or RS256 to have one."
                ),
                "code": "NOT_FOUND",
            },
            status=404,
        )
    response = JsonResponse(keys.jwks())
    response["Cache-Control"] = "public, max-age=300"
    return response
