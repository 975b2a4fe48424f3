"""The floor: a bare Django app that answers the service's URL shapes with constant JSON.

Run under the same gunicorn settings as the service, it measures what the machine,
gunicorn and Django's request handling cost before any of the service's own work.
"""

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import JsonResponse
from django.urls import path, re_path

settings.configure(
    DEBUG=False,
    SECRET_KEY="floor-has-no-secrets-but-django-wants-a-key-0123456789",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    USE_TZ=True,
)

STATUS = {"password": False}
SENT = {"details": "otp sent", "expires_in": 120, "retry_after": 60}
TOKENS = {"refresh": "0" * 64, "access": "a.b.c", "created": False}
GRAPHQL = {"data": {"userStatus": {"exists": True, "hasPassword": False}}}


def constant(body):
    def view(request, **kwargs):
        return JsonResponse(body)

    return view


urlpatterns = [
    re_path(r"^accounts/api/status/(?P<phone_number>[^/]+)/?$", constant(STATUS)),
    re_path(r"^accounts/api/otp/(?P<phone_number>[^/]+)/?$", constant(SENT)),
    re_path(r"^accounts/api/token/?$", constant(TOKENS)),
    re_path(r"^accounts/api/token/refresh/?$", constant(TOKENS)),
    re_path(r"^accounts/api/token/verify/?$", constant({})),
    path("graphql", constant(GRAPHQL)),
    path("livez", constant({"status": "ok"})),
]

application = get_wsgi_application()
