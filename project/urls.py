from django.contrib import admin
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from accounts.api import jwks, metrics
from schema.views import GraphQLView

from . import errors
from .health import healthz, livez

urlpatterns = [
    path("graphql", csrf_exempt(GraphQLView.as_view()), name="graphql"),
    path("accounts/api/", include("accounts.urls")),
    path(".well-known/jwks.json", jwks, name="jwks"),
    path("healthz", healthz, name="healthz"),
    path("readyz", healthz, name="readyz"),
    path("livez", livez, name="livez"),
    path("metrics", metrics, name="metrics"),
    path("admin/", admin.site.urls),
]


# Every answer of this service is JSON, the ones Django makes itself included.
handler400 = errors.bad_request
handler403 = errors.permission_denied
handler404 = errors.not_found
handler500 = errors.server_error
