from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.utils.translation import gettext as _

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
