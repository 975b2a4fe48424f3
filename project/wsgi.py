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


application = SizedChunkedBodies(get_wsgi_application())
