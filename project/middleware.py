import functools

from corsheaders.conf import conf as cors_conf
from corsheaders.middleware import CorsMiddleware as BaseCorsMiddleware
from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed, RequestDataTooBig, TooManyFieldsSent
from django.core.handlers.exception import response_for_exception
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.middleware.security import SecurityMiddleware
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation.trans_real import LANGUAGE_CODE_MAX_LENGTH, parse_accept_lang_header

from accounts.errors import InvalidInput
from project import cross_site, request_id
from project.errors import error_response, too_large_response


class CorsMiddleware(BaseCorsMiddleware):
    """django-cors-headers' middleware, left out of the chain when no origin may call:
    then it has nothing to add to any answer."""

    def __init__(self, get_response):
        if not (
            cors_conf.CORS_ALLOWED_ORIGINS
            or cors_conf.CORS_ALLOWED_ORIGIN_REGEXES
            or cors_conf.CORS_ALLOW_ALL_ORIGINS
        ):
            raise MiddlewareNotUsed
        super().__init__(get_response)


def body_size_refusal(request):
    """The answer to a body over MAX_REQUEST_BODY_BYTES (or an unreadable length)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return error_response(request, InvalidInput(_("Invalid Content-Length.")))
    if length > settings.MAX_REQUEST_BODY_BYTES:
        return too_large_response(request)
    return None


def body_error_response(request, exception):
    """The answer to a body found too large, or with too many fields, while a view read
    it; None for any other exception."""
    if isinstance(exception, RequestDataTooBig):
        return too_large_response(request)
    if isinstance(exception, TooManyFieldsSent):
        return error_response(request, InvalidInput(_("Too many fields.")))
    return None


class BodySizeLimitMiddleware:
    """Refuse bodies over MAX_REQUEST_BODY_BYTES with 413 before anything reads them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return body_size_refusal(request) or self.get_response(request)

    def process_exception(self, request, exception):
        return body_error_response(request, exception)


class CrossSiteMiddleware:
    """Refuse a request another site's page made a browser send (`project.cross_site`)
    on the routes that send codes or check secrets."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        forged = cross_site.refusal(request)
        if forged is not None:
            return error_response(request, forged)
        return self.get_response(request)


class ApiMiddleware:
    """Everything an API request goes through after CORS and metrics, in one layer:
    its request id, the language from `Accept-Language`, Django's SecurityMiddleware
    (redirect and headers), the body-size limit, the ALLOWED_HOSTS check, the refusal of
    requests other sites' pages sent (`project.cross_site`) and the `Content-Length` of
    the answer.

    The same steps as the full stack's middleware, in the same order, without a Django
    middleware layer per step (each costs a few microseconds on every request). The
    language comes from `Accept-Language` alone: the API reads no cookie and its paths
    carry no language prefix, and it is worked out once per distinct header.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.security = SecurityMiddleware(get_response)  # its methods, called directly

    def __call__(self, request):
        token = request_id.begin(request)
        try:
            # Django reads at most LANGUAGE_CODE_MAX_LENGTH characters of the header;
            # one more keeps its answer the same and the remembered keys small.
            header = request.META.get("HTTP_ACCEPT_LANGUAGE", "")
            language = language_for(header[: LANGUAGE_CODE_MAX_LENGTH + 1])
            translation.activate(language)
            request.LANGUAGE_CODE = language
            try:
                response = self.security.process_request(request) or self._checked(request)
            except Exception as exc:  # as Django's handler would answer it, then headed
                response = response_for_exception(request, exc)
            response = self.security.process_response(request, response)
            if "Vary" in response.headers:
                patch_vary_headers(response, ("Accept-Language",))
            else:  # the usual case, without parsing a header that is not there
                response.headers["Vary"] = "Accept-Language"
            response.headers.setdefault("Content-Language", language)
        finally:
            request_id.end(token)
        response.headers["X-Request-ID"] = request.id
        if not response.streaming and "Content-Length" not in response.headers:
            # As CommonMiddleware does: without it, gunicorn sends the body chunked.
            response.headers["Content-Length"] = str(len(response.content))
        return response

    def _checked(self, request):
        refusal = body_size_refusal(request)
        if refusal is not None:
            return refusal
        check_host(request)  # DisallowedHost outside ALLOWED_HOSTS: a JSON 400
        forged = cross_site.refusal(request)
        if forged is not None:
            return error_response(request, forged)
        return self.get_response(request)

    def process_exception(self, request, exception):
        return body_error_response(request, exception)


# The host headers of requests that passed the ALLOWED_HOSTS check, so that each
# distinct value is checked once (patterns like `.example.com` allow endless names: the
# set stops growing at its cap). Emptied when a setting the check reads changes.
_allowed_hosts: set[tuple] = set()
_ALLOWED_HOSTS_CAP = 1024


def check_host(request) -> None:
    """`request.get_host()`'s check (DisallowedHost outside ALLOWED_HOSTS), once per
    distinct set of the headers it reads."""
    meta = request.META
    seen = (
        meta.get("HTTP_X_FORWARDED_HOST"),
        meta.get("HTTP_HOST"),
        meta.get("SERVER_NAME"),
        meta.get("SERVER_PORT"),
        meta.get("HTTP_X_FORWARDED_PORT"),
    )
    if seen in _allowed_hosts:
        return
    request.get_host()
    if len(_allowed_hosts) < _ALLOWED_HOSTS_CAP:
        _allowed_hosts.add(seen)


@receiver(setting_changed)
def _forget_allowed_hosts(setting, **kwargs) -> None:
    if setting in ("ALLOWED_HOSTS", "DEBUG", "USE_X_FORWARDED_HOST", "USE_X_FORWARDED_PORT"):
        _allowed_hosts.clear()
    if setting in ("LANGUAGE_CODE", "LANGUAGES"):
        language_for.cache_clear()


@functools.lru_cache(maxsize=1024)
def language_for(accept_language: str) -> str:
    """The first supported language the header asks for, or LANGUAGE_CODE."""
    for code, _quality in parse_accept_lang_header(accept_language):
        if code == "*":
            break
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return translation.get_supported_language_variant(settings.LANGUAGE_CODE)
