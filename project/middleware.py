from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import JsonResponse
from django.utils.translation import gettext as _


def too_large_response() -> JsonResponse:
    return JsonResponse(
        {"detail": _("The request body is too large."), "code": "REQUEST_TOO_LARGE"}, status=413
    )


class BodySizeLimitMiddleware:
    """Refuse bodies over MAX_REQUEST_BODY_BYTES with 413 before anything reads them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse(
                {"detail": _("Invalid Content-Length."), "code": "INVALID_INPUT"}, status=400
            )
        if length > settings.MAX_REQUEST_BODY_BYTES:
            return too_large_response()
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, RequestDataTooBig):
            return too_large_response()
        if isinstance(exception, TooManyFieldsSent):
            return JsonResponse(
                {"detail": _("Too many fields."), "code": "INVALID_INPUT"}, status=400
            )
        return None
