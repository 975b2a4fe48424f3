"""Claims of the product's own in access tokens (a role, a tenant id): JWT_CLAIMS_HOOK
names a function, `hook(user, method) -> dict`, called for every new access token with
the account and how its session was opened ("code", "password", "legacy"; None for a
token without a session). It may return only the names in JWT_CUSTOM_CLAIMS, never one of
the service's own (RESERVED, refused by a system check), and only JSON values.

Without a hook nothing here runs. With one, each new access token costs one indexed query
for the account and its session, and whatever the hook does.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Mapping

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from accounts.models import Session, User

logger = logging.getLogger("accounts")

# The service's claims (accounts/tokens.py) and JWT's registered ones (RFC 7519).
RESERVED = frozenset(
    {"sub", "phoneNumber", "iat", "exp", "origIat", "jti", "iss", "sid", "aud", "nbf"}
)

Hook = Callable[[User, "str | None"], Mapping]


@functools.cache
def hook() -> Hook | None:
    """The configured hook, imported once; None without one."""
    path = settings.JWT_CLAIMS_HOOK
    return import_string(path) if path else None


@receiver(setting_changed)
def _forget_hook(setting, **kwargs) -> None:
    if setting == "JWT_CLAIMS_HOOK":
        hook.cache_clear()


def problems() -> list[str]:
    """What is wrong with the hook's settings (the system check's findings)."""
    found = []
    names = settings.JWT_CUSTOM_CLAIMS
    if reserved := sorted(set(names) & RESERVED):
        found.append(f"JWT_CUSTOM_CLAIMS names the service's own claims: {', '.join(reserved)}.")
    if not settings.JWT_CLAIMS_HOOK:
        return found
    if not names:
        found.append("JWT_CLAIMS_HOOK is set but JWT_CUSTOM_CLAIMS names no claim it may add.")
    try:
        function = hook()
    except ImportError as error:
        found.append(f"JWT_CLAIMS_HOOK cannot be imported: {error}")
    else:
        if not callable(function):
            found.append("JWT_CLAIMS_HOOK does not name a function.")
    return found


def of_hook(user_id: int, session_id: str | None) -> dict:
    """The hook's claims for a new access token of `user_id`'s session (none without a
    hook): the declared names only, JSON values only; anything else is dropped and
    logged at ERROR, so a hook's mistake never changes the service's own claims."""
    function = hook()
    if function is None:
        return {}
    method = None
    if session_id is not None:
        session = Session.objects.select_related("user").get(pk=session_id)
        user, method = session.user, session.method
    else:
        user = User.objects.get(pk=user_id)
    returned = function(user, method)
    allowed = set(settings.JWT_CUSTOM_CLAIMS) - RESERVED
    kept = {}
    for name, value in dict(returned or {}).items():
        if name not in allowed:
            logger.error("JWT_CLAIMS_HOOK returned %r, which JWT_CUSTOM_CLAIMS does not name", name)
            continue
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            logger.error("JWT_CLAIMS_HOOK returned a value for %r that is not JSON", name)
            continue
        kept[name] = value
    return kept
