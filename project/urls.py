from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from schema.views import GraphQLView

from .health import healthz, livez

urlpatterns = [
    path("graphql", csrf_exempt(GraphQLView.as_view()), name="graphql"),
    path("accounts/api/", include("accounts.urls")),
    path("healthz", healthz, name="healthz"),
    path("readyz", healthz, name="readyz"),
    path("livez", livez, name="livez"),
    path("admin/", admin.site.urls),
]


def not_found(request, exception=None):
    return JsonResponse({"detail": _("Not found."), "code": "NOT_FOUND"}, status=404)


def server_error(request):
    return JsonResponse(
        {"detail": _("Internal server error."), "code": "INTERNAL_ERROR"}, status=500
    )


# Every answer of this service is JSON, the ones Django makes itself included.
handler404 = not_found
handler500 = server_error
