"""The WSGI application: two Django handlers in one process, chosen by path.

API requests (`/graphql`, `/accounts/api/`, the JWKS, metrics and probes) go through
`API_MIDDLEWARE`, only what they use; everything else (the admin, static files) through
the full `MIDDLEWARE`. Both share one URLconf, settings and database connections.
"""

import io
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")


class SizedChunkedBodies:
    """Give a chunked request body (sent without Content-Length) a size.

    gunicorn ends such a body's stream where the body ends (`wsgi.input_terminated`),
    but Django reads only Content-Length bytes, so it would see an empty body. This reads
    at most one byte over MAX_REQUEST_BODY_BYTES and passes the body on with its length:
    a small one is served as if sized, a larger one meets the 413 like any other.
    """

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        if (
            not environ.get("CONTENT_LENGTH")
            and environ.get("wsgi.input_terminated")
            and "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        ):
            from django.conf import settings

            body = environ["wsgi.input"].read(settings.MAX_REQUEST_BODY_BYTES + 1)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return self.application(environ, start_response)


class TrustedForwarding:
    """Drop `X-Forwarded-For` and `X-Forwarded-Proto` from every request whose peer is
    not in TRUSTED_PROXIES, before anything reads them (`accounts.networks`)."""

    def __init__(self, application):
        self.application = application
        from accounts.abuse.networks import strip_untrusted_forwarding

        self.strip = strip_untrusted_forwarding

    def __call__(self, environ, start_response):
        self.strip(environ)
        return self.application(environ, start_response)


class ByPath:
    """Hand API paths to the lean handler, every other path to the full one."""

    def __init__(self, api, full, api_paths, api_prefixes):
        self.api, self.full = api, full
        self.api_paths, self.api_prefixes = frozenset(api_paths), tuple(api_prefixes)

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path in self.api_paths or path.startswith(self.api_prefixes):
            return self.api(environ, start_response)
        return self.full(environ, start_response)


def _handler_with(middleware):
    """A Django WSGI handler whose middleware chain is `middleware`: Django builds the
    chain once, from MIDDLEWARE, when the handler is made."""
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler

    full = settings.MIDDLEWARE
    settings.MIDDLEWARE = middleware
    try:
        return WSGIHandler()
    finally:
        settings.MIDDLEWARE = full


def build():
    from project import tracing

    if tracing.wanted():
        import django

        django.setup(set_prefix=False)
        tracing.configure()  # before the handlers read their middleware
    full = get_wsgi_application()  # sets Django up (again: a no-op for the app registry)
    from django.conf import settings

    from project.routes import API_PATHS, API_PREFIXES

    api = _handler_with(settings.API_MIDDLEWARE)
    return TrustedForwarding(SizedChunkedBodies(ByPath(api, full, API_PATHS, API_PREFIXES)))


application = build()
