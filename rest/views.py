"""REST compatibility URLs under /accounts/api/.

The shapes match what clients of the former djangorestframework-simplejwt endpoints
expect. Each view reads its input, calls one use case (`accounts.flows`) and shapes
the answer; every error becomes `{"detail", "code"}` with its HTTP status (`project.errors`).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from accounts.errors import InvalidInput, NotFound
from accounts.flows import login, number_status, send_code, token_exchange
from accounts.flows.metrics_access import authorize_metrics
from accounts.outbound.metrics import exposition
from accounts.sessions.keys import SYMMETRIC, key_set
from project import client_input, routes
from project.client_input import client_ip
from project.errors import endpoint, json_response

logger = logging.getLogger("accounts")


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
def user_status(request: HttpRequest, phone_number: str) -> HttpResponse:
    status = number_status.user_status(phone_number=phone_number, client_ip=client_ip(request))
    if not status.exists:
        raise NotFound(_("No account with this phone number."))
    return json_response({"password": status.has_password})


@endpoint("GET", "POST")
def send_otp(request: HttpRequest, phone_number: str) -> HttpResponse:
    sent = send_code.send_otp(
        phone_number=phone_number,
        client_ip=client_ip(request),
        # A passed bot check's token, when a send was answered CHALLENGE_REQUIRED.
        challenge_token=request.META.get("HTTP_X_CHALLENGE_TOKEN") or None,
    )
    return json_response(
        {"details": "otp sent", "expires_in": sent.expires_in, "retry_after": sent.retry_after}
    )


@endpoint("POST")
def token_obtain(request: HttpRequest) -> HttpResponse:
    data = _body(request)
    pair = login.login(
        phone_number=_field(data, "phone_number"),
        password=_field(data, "password"),
        client_ip=client_ip(request),
        user_agent=client_input.user_agent(request),
    )
    return json_response({"refresh": pair.refresh, "access": pair.access, "created": pair.created})


@endpoint("POST")
def token_refresh(request: HttpRequest) -> HttpResponse:
    pair = token_exchange.refresh(refresh_token=_field(_body(request), "refresh"))
    return json_response({"access": pair.access, "refresh": pair.refresh})


@endpoint("POST")
def token_verify(request: HttpRequest) -> HttpResponse:
    token_exchange.verify(token=_field(_body(request), "token"))
    return json_response({})


@endpoint("POST")
def token_blacklist(request: HttpRequest) -> HttpResponse:
    """Log out (simplejwt's name): the session of the refresh token ends."""
    token_exchange.revoke(refresh_token=_field(_body(request), "refresh"))
    return json_response({})


@endpoint("GET")
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics (accounts.metrics); 404 unless METRICS_ENABLED."""
    if not settings.METRICS_ENABLED:
        raise NotFound()
    authorize_metrics(
        authorization=request.META.get("HTTP_AUTHORIZATION", ""), client_ip=client_ip(request)
    )
    body, content_type = exposition()
    return HttpResponse(body, content_type=content_type)


def published_key_set():
    """The key set, when it has public keys to publish (not with HS256)."""
    keys = key_set()
    if keys.algorithm == SYMMETRIC:
        raise NotFound(
            _(
                "Access tokens are signed with HS256, a shared secret: there is no public "
                "key to publish. Set JWT_ALGORITHM to ES256, EdDSA or RS256 to have one."
            )
        )
    return keys


def _cached(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "public, max-age=300"
    return response


@endpoint("GET")
def jwks(request: HttpRequest) -> HttpResponse:
    """The public keys that verify access tokens (RFC 7517), for other services."""
    return _cached(json_response(published_key_set().jwks()))


@endpoint("GET")
def openid_configuration(request: HttpRequest) -> HttpResponse:
    """Where the keys are, for gateways and JWT libraries that start from the issuer
    (OpenID Connect Discovery 1.0, RFC 8414): the issuer, the JWKS and the algorithm
    that signs access tokens, and nothing this service does not do (no authorization
    or token endpoint of OAuth's, no ID tokens)."""
    keys = published_key_set()
    issuer = settings.JWT_ISSUER
    if issuer.startswith(("https://", "http://")):
        jwks_uri = issuer.rstrip("/") + "/" + routes.JWKS.path
    else:
        jwks_uri = request.build_absolute_uri("/" + routes.JWKS.path)
    document = {
        "issuer": issuer,
        "jwks_uri": jwks_uri,
        # The field gateways and libraries read the algorithms from; the tokens it
        # names here are the access tokens, the only ones this service signs.
        "id_token_signing_alg_values_supported": [keys.algorithm],
    }
    return _cached(json_response(document))
