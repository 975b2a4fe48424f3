from django.contrib import admin
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from project import errors, routes
from project.health import healthz, livez, readyz
from rest.views import jwks, metrics, openid_configuration
from schema.views import GraphQLView

# Every API route of `routes.API_ROUTES`, and its view.
VIEWS = {
    routes.GRAPHQL.path: csrf_exempt(GraphQLView.as_view()),
    routes.REST.path: include("rest.urls"),
    routes.JWKS.path: jwks,
    routes.DISCOVERY.path: openid_configuration,
    "healthz": healthz,
    "readyz": readyz,
    "livez": livez,
    "metrics": metrics,
}

urlpatterns = [path(route.path, VIEWS[route.path], name=route.name) for route in routes.API_ROUTES]
urlpatterns.append(path("admin/", admin.site.urls))

# Every answer of this service is JSON, the ones Django makes itself included.
handler400 = errors.bad_request
handler403 = errors.permission_denied
handler404 = errors.not_found
handler500 = errors.server_error
