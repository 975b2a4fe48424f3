"""Named SMS providers (`SMS_PROVIDERS`) and the routes numbers take through them
(`SMS_ROUTES`).

`SMS_PROVIDERS` is a JSON object: each provider's name, its `backend` (a short name or
a dotted path) and its options. A string option may name environment variables as
`${NAME}`, so that secrets stay in the environment and out of the JSON. Without it, the
one provider is `SMS_BACKEND`, with its own settings.

`SMS_ROUTES` maps a number prefix (`+98912`), an ISO region (`IR`) or `*` to providers
in order, as `+98=smsir|kavenegar,*=twilio`: the longest prefix that matches wins, then
the number's region, then `*`. Without it, every number goes through the providers in
the order `SMS_PROVIDERS` lists them.

Each provider's backend is made once per process (and again when settings change in
tests); backends keep no per-message state, so the delivery worker's threads share it.
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string
from phonenumber_field.phonenumber import PhoneNumber
from phonenumbers import region_code_for_number

from accounts.codes.sms.backends.base import BaseSMSBackend

BACKEND_ALIASES = {
    "console": "accounts.codes.sms.backends.console.SMSBackend",
    "file": "accounts.codes.sms.backends.filebased.SMSBackend",
    "locmem": "accounts.codes.sms.backends.locmem.SMSBackend",
    "dummy": "accounts.codes.sms.backends.dummy.SMSBackend",
    "kavenegar": "accounts.codes.sms.backends.kavenegar.SMSBackend",
    "twilio": "accounts.codes.sms.backends.twilio.SMSBackend",
    "smsir": "accounts.codes.sms.backends.smsir.SMSBackend",
    "ghasedak": "accounts.codes.sms.backends.ghasedak.SMSBackend",
    "melipayamak": "accounts.codes.sms.backends.melipayamak.SMSBackend",
    "ippanel": "accounts.codes.sms.backends.ippanel.SMSBackend",
    "http": "accounts.codes.sms.backends.configured.SMSBackend",
}
_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_PREFIX = re.compile(r"\+[0-9]{1,15}")
_REGION = re.compile(r"[A-Z]{2}")


class ProviderSettingsError(ValueError):
    """SMS_PROVIDERS or SMS_ROUTES cannot be used (reported by the system checks)."""


@dataclass(frozen=True)
class Provider:
    name: str
    backend: BaseSMSBackend


@dataclass(frozen=True)
class Providers:
    by_name: dict[str, Provider]
    routes: dict[str, tuple[str, ...]]  # prefix, region or "*" -> provider names

    def route(self, phone: PhoneNumber) -> tuple[Provider, ...]:
        """The providers that text `phone`, in the order they are tried."""
        if len(self.routes) == 1 and "*" in self.routes:  # one route: nothing to look up
            return tuple(self.by_name[name] for name in self.routes["*"])
        e164 = phone.as_e164
        prefixes = [key for key in self.routes if key.startswith("+") and e164.startswith(key)]
        if prefixes:
            key = max(prefixes, key=len)
        else:
            region = region_code_for_number(phone) or ""
            key = region if region in self.routes else "*"
        return tuple(self.by_name[name] for name in self.routes.get(key, ()))

    @property
    def longest_route(self) -> int:
        return max((len(names) for names in self.routes.values()), default=1)


_cached: Providers | None = None
_lock = threading.Lock()


def providers() -> Providers:
    """The process's providers and routes, made on first use."""
    global _cached
    if _cached is None:
        with _lock:
            if _cached is None:
                _cached = build()
    return _cached


@receiver(setting_changed)
def _forget(setting: str, **kwargs: Any) -> None:
    global _cached
    _cached = None


def route(phone: PhoneNumber) -> tuple[Provider, ...]:
    return providers().route(phone)


def declared() -> dict[str, dict[str, Any]]:
    """SMS_PROVIDERS as {name: options}, `backend` among them; `SMS_BACKEND` alone
    when it is empty."""
    raw = settings.SMS_PROVIDERS
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError as error:
            raise ProviderSettingsError(f"SMS_PROVIDERS is not JSON: {error.msg}") from None
    if not raw:
        return {settings.SMS_BACKEND: {"backend": settings.SMS_BACKEND}}
    if not isinstance(raw, dict):
        raise ProviderSettingsError("SMS_PROVIDERS must be a JSON object of named providers.")
    declared: dict[str, dict[str, Any]] = {}
    for name, options in raw.items():
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ProviderSettingsError(
                f"SMS_PROVIDERS: {name!r} is not a provider name (a-z, 0-9, - and _)."
            )
        if not isinstance(options, dict) or not isinstance(options.get("backend"), str):
            raise ProviderSettingsError(f'SMS_PROVIDERS: {name} needs a "backend".')
        declared[name] = options
    return declared


def expand(value: Any, where: str) -> Any:
    """`value` with every `${NAME}` in its strings replaced by that environment variable."""
    if isinstance(value, str):

        def variable(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise ProviderSettingsError(f"{where} names ${{{name}}}, which is not set.")
            return os.environ[name]

        return _ENV_REFERENCE.sub(variable, value)
    if isinstance(value, dict):
        return {key: expand(item, where) for key, item in value.items()}
    if isinstance(value, list):
        return [expand(item, where) for item in value]
    return value


def parse_routes(names: list[str]) -> dict[str, tuple[str, ...]]:
    raw = settings.SMS_ROUTES
    if not raw:
        return {"*": tuple(names)}
    routes: dict[str, tuple[str, ...]] = {}
    for key, value in raw.items():
        key = str(key).strip()
        if key != "*" and not _PREFIX.fullmatch(key) and not _REGION.fullmatch(key.upper()):
            raise ProviderSettingsError(
                f"SMS_ROUTES: {key!r} is not a number prefix (+98), a region (IR) or *."
            )
        key = key if key.startswith("+") or key == "*" else key.upper()
        route = tuple(name.strip() for name in str(value).split("|") if name.strip())
        unknown = [name for name in route if name not in names]
        if unknown or not route:
            raise ProviderSettingsError(
                f"SMS_ROUTES: {key} names no provider, or one SMS_PROVIDERS does not declare "
                f"({', '.join(unknown) or 'empty'})."
            )
        if len(set(route)) != len(route):
            raise ProviderSettingsError(f"SMS_ROUTES: {key} names a provider twice.")
        routes[key] = route
    return routes


def build() -> Providers:
    """Make every declared provider's backend and read the routes; raise
    `ProviderSettingsError` for what cannot be used."""
    by_name: dict[str, Provider] = {}
    for name, options in declared().items():
        where = f"SMS_PROVIDERS[{name}]"
        options = expand(dict(options), where)
        backend_name = options.pop("backend")
        try:
            backend_class = import_string(BACKEND_ALIASES.get(backend_name, backend_name))
        except ImportError:
            raise ProviderSettingsError(
                f"{where}: backend {backend_name!r} is not a known backend or class."
            ) from None
        if backend_name == "http":
            options.setdefault("name", name)  # its reasons in the log carry its name
        backend = backend_class(**options)
        missing = [option for option in backend.needs() if option]
        if missing:
            raise ProviderSettingsError(f"{where} needs {', '.join(missing)}.")
        by_name[name] = Provider(name, backend)
    return Providers(by_name, parse_routes(list(by_name)))


def problems() -> list[str]:
    """What keeps SMS_PROVIDERS and SMS_ROUTES from being used (the system checks)."""
    try:
        build()
    except ProviderSettingsError as error:
        return [str(error)]
    return []
