"""Requests another site's page makes a browser send are refused where codes are sent
and secrets checked (the routes marked `guarded` in `project.routes`).

A page on any site can make its visitors' browsers send simple requests without asking
(an `<img>`, a form post, `fetch` in `no-cors` mode, `sendBeacon`): each visitor is a
new client address, so per-client limits would never bind. Browsers say where such a
request comes from: Fetch Metadata's `Sec-Fetch-Site` (every current browser) and
`Origin` (older browsers send it on cross-site posts). A request is refused when
`Sec-Fetch-Site` is `cross-site` or `same-site` and its `Origin` is not one of
CORS_ALLOWED_ORIGINS, or when its `Origin` names any other site that is not listed.
Native clients and servers send neither header, and are served as before.
"""

from __future__ import annotations

import functools
import logging
from urllib.parse import urlsplit

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest

from accounts.errors import AccountsError, CrossSiteRequest
from project.routes import is_guarded

logger = logging.getLogger("accounts")
FOREIGN_SITES = frozenset(("cross-site", "same-site"))


@functools.cache
def _listed() -> frozenset[str]:
    return frozenset(origin.rstrip("/").lower() for origin in settings.CORS_ALLOWED_ORIGINS)


def refusal(request: HttpRequest) -> AccountsError | None:
    """The error to answer a request another site's page sent, or None."""
    meta = request.META
    origin = meta.get("HTTP_ORIGIN")
    site = meta.get("HTTP_SEC_FETCH_SITE")
    if origin is None and site not in FOREIGN_SITES:
        return None  # the usual case: a native client, a server, or the page itself
    if not is_guarded(request.path_info):
        return None
    if origin is not None:
        origin = origin.strip().lower()
        if origin in _listed():
            return None
        if site not in FOREIGN_SITES and _is_own(request, origin):
            return None
    # The origin a client names is not logged: it is whatever the client wrote.
    logger.info("Refused a request another site's page sent (Sec-Fetch-Site %s)", site or "-")
    return CrossSiteRequest()


def _is_own(request: HttpRequest, origin: str) -> bool:
    """True when `origin` is this service's own host (its pages, GraphiQL)."""
    try:
        return urlsplit(origin).netloc == request.get_host().lower()
    except ValueError:
        return False


@receiver(setting_changed)
def _forget(setting, **kwargs) -> None:
    if setting == "CORS_ALLOWED_ORIGINS":
        _listed.cache_clear()
