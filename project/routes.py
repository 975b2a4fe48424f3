"""The API's routes, listed once. The URLconf, the WSGI split (which paths take the
lean middleware chain), CORS and the error renderer (which door's shape an error takes)
all read this list."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    path: str  # as Django's `path()` takes it: no leading slash
    name: str
    prefix: bool = False  # every path under it
    cross_origin: bool = False  # answers browser apps on CORS_ALLOWED_ORIGINS
    # sends codes or checks secrets: refused from other sites' pages (project.cross_site)
    guarded: bool = False


GRAPHQL = Route("graphql", "graphql", cross_origin=True, guarded=True)
REST = Route("accounts/api/", "accounts", prefix=True, cross_origin=True, guarded=True)
JWKS = Route(".well-known/jwks.json", "jwks", cross_origin=True)
DISCOVERY = Route(".well-known/openid-configuration", "openid-configuration", cross_origin=True)
API_ROUTES = (
    GRAPHQL,
    REST,
    JWKS,
    DISCOVERY,
    Route("healthz", "healthz"),
    Route("readyz", "readyz"),
    Route("livez", "livez"),
    Route("metrics", "metrics"),
)

API_PATHS = frozenset("/" + route.path for route in API_ROUTES if not route.prefix)
API_PREFIXES = tuple("/" + route.path for route in API_ROUTES if route.prefix)
CORS_URLS_REGEX = "^/({})".format(
    "|".join(re.escape(route.path) for route in API_ROUTES if route.cross_origin)
)
GUARDED_PATHS = frozenset("/" + r.path for r in API_ROUTES if r.guarded and not r.prefix)
GUARDED_PREFIXES = tuple("/" + r.path for r in API_ROUTES if r.guarded and r.prefix)


def is_guarded(path_info: str) -> bool:
    return path_info.rstrip("/") in GUARDED_PATHS or path_info.startswith(GUARDED_PREFIXES)


def is_graphql(path_info: str) -> bool:
    return path_info.rstrip("/") == "/" + GRAPHQL.path
