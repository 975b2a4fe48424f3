"""A request id on every log line and in the `X-Request-ID` response header.

A context variable rather than a thread-local: setting and reading one costs a fraction
of a microsecond, and it is right under threads and asyncio alike.
"""

import contextvars
import logging
import os

_request_id = contextvars.ContextVar("request_id", default="none")


class RequestIDMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = begin(request)
        try:
            response = self.get_response(request)
        finally:
            end(token)
        response.headers["X-Request-ID"] = request.id
        return response


def begin(request) -> contextvars.Token:
    """Give the request an id, which the log lines written until `end` carry."""
    request.id = os.urandom(16).hex()
    return _request_id.set(request.id)


def end(token: contextvars.Token) -> None:
    _request_id.reset(token)


class RequestIDFilter(logging.Filter):
    """Give every record the id of the request it was logged in ("none" outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        return True
