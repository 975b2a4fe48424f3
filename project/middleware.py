import functools

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation.trans_real import parse_accept_lang_header

from .errors import error_response, too_large_response


class BodySizeLimitMiddleware:
    """Refuse bodies over MAX_REQUEST_BODY_BYTES with 413 before anything reads them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return error_response(request, 400, "INVALID_INPUT", _("Invalid Content-Length."))
        if length > settings.MAX_REQUEST_BODY_BYTES:
            return too_large_response(request)
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, RequestDataTooBig):
            return too_large_response(request)
        if isinstance(exception, TooManyFieldsSent):
            return error_response(request, 400, "INVALID_INPUT", _("Too many fields."))
        return None


class AcceptLanguageMiddleware:
    """The API's LocaleMiddleware: the language comes from `Accept-Language` alone (the
    API reads no cookie and its paths carry no language prefix), and is worked out once
    per distinct header, since Django's own path and cookie checks cost more per request
    than everything else the API's middleware does together."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        language = language_for(request.META.get("HTTP_ACCEPT_LANGUAGE", ""))
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        patch_vary_headers(response, ("Accept-Language",))
        response.headers.setdefault("Content-Language", language)
        return response


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


class AllowedHostMiddleware:
    """Refuse a Host outside ALLOWED_HOSTS (a JSON 400): the one part of Django's
    CommonMiddleware the API needs (its URLs take a trailing slash or not already)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.get_host()
        return self.get_response(request)
