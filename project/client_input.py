"""What clients send, read once, where each door reads it: text, bodies, forms, and
the client's address and User-Agent.

JSON's `\\u` escapes can carry lone surrogates, which no UTF-8 encoder accepts, and JSON
nested thousands deep exhausts the parser's stack. Both doors read bodies, variables and
form fields through this module, so neither reaches a service, a hash, a JWT decoder or
the database. (NUL is valid UTF-8: each field's own rules refuse it.)
"""

from __future__ import annotations

import json

from django.core.exceptions import BadRequest
from django.http import HttpRequest, QueryDict
from django.http.multipartparser import MultiPartParserError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts.abuse import networks
from accounts.errors import InvalidInput

UNENCODABLE = gettext_noop("The request holds text that is not valid Unicode (a lone surrogate).")


def is_encodable(value: str) -> bool:
    """True for text that encodes as UTF-8: no lone surrogates."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_text(value: object) -> None:
    """Raise `InvalidInput` if any string in `value` (keys of mappings included) does not
    encode as UTF-8; `value` is what a JSON decoder or a form parser returned."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if not is_encodable(item):
                raise InvalidInput(_(UNENCODABLE), reason="unencodable text")
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)


def read_form(request: HttpRequest) -> QueryDict:
    """The request's form fields; `InvalidInput` when they cannot be read (a charset
    other than UTF-8, a broken multipart body) rather than Django's own 400, whose
    debug page would read the form again and fail with a 500."""
    try:
        return request.POST
    except (BadRequest, MultiPartParserError):
        raise InvalidInput(
            _("The form cannot be read: send it as UTF-8."), reason="bad form"
        ) from None


def decode(body: bytes) -> str:
    """A body as text; `InvalidInput` when it is not UTF-8."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(_("The body is not valid UTF-8."), reason="not UTF-8") from None


def loads(body: bytes | str) -> object:
    """Decode a JSON body from a client; raise `InvalidInput` saying what is wrong."""
    if isinstance(body, bytes):
        body = decode(body)
    try:
        data = json.loads(body)
    except RecursionError:
        raise InvalidInput(_("The body is nested too deeply."), reason="deep JSON") from None
    except ValueError:
        raise InvalidInput(_("The body is not valid JSON."), reason="not JSON") from None
    # A lone surrogate can only come from a \u escape: skip the walk without one.
    if "\\u" in body:
        check_text(data)
    return data


def user_agent(request: HttpRequest) -> str:
    """The User-Agent header, as a session records it."""
    return request.META.get("HTTP_USER_AGENT", "")


def client_ip(request: HttpRequest) -> str:
    """The client's address (`accounts.networks.client_address`)."""
    return networks.client_address(request.META)
