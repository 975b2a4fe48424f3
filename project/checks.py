"""System checks: refuse settings that would break a rule of the service: each outside
the bounds its declaration gives (project/configuration.toml), and the rules between them."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.utils import translation

from accounts.abuse import bot_check, networks
from accounts.codes.sms import providers
from project import configuration


@register(Tags.security, deploy=False)
def check_bounds(app_configs, **kwargs):
    """Every setting within the bounds project/configuration.toml declares for it."""
    return [
        Error(problem, id=setting.check)
        for setting in configuration.SETTINGS.values()
        if setting.reader == "django"
        and (problem := setting.problem(getattr(settings, setting.name)))
    ]


@register(Tags.security, deploy=False)
def check_otp_settings(app_configs, **kwargs):
    errors = []
    errors.extend(_check_proxies())
    if settings.RATE_LIMIT_STORE == "redis" and not settings.REDIS_URL:
        errors.append(Error("RATE_LIMIT_STORE=redis needs REDIS_URL.", id="accounts.E005"))
    errors.extend(_check_template())
    # Every provider can be made, has what it needs, and every route names them.
    errors.extend(Error(problem, id="accounts.E006") for problem in providers.problems())
    if not settings.DEBUG and settings.SMS_BACKEND == "console":
        errors.append(
            Warning(
                "SMS_BACKEND is 'console' with DEBUG off: codes are printed, not texted.",
                id="accounts.W001",
            )
        )
    return errors


ANDROID_APP_HASH = re.compile(r"[A-Za-z0-9+/]{11}")
# One SMS segment: what Android's SMS Retriever reads (160 GSM-7 or 70 UCS-2 characters).
SMS_SEGMENT_BYTES = 140


@register(Tags.security, deploy=False)
def check_test_numbers(app_configs, **kwargs):
    from accounts.codes.otp import fixed_codes

    errors = []
    for entry in settings.OTP_TEST_NUMBERS:
        number, _, code = entry.rpartition(":")
        valid = fixed_codes().get(_e164(number)) == code
        if not valid:
            errors.append(
                Error(
                    f"OTP_TEST_NUMBERS: {entry!r} is not number:code with a valid number and "
                    f"a code of OTP_LENGTH ({settings.OTP_LENGTH}) digits.",
                    id="accounts.E009",
                )
            )
    if settings.OTP_TEST_NUMBERS and not settings.DEBUG:
        numbers = ", ".join(sorted(fixed_codes()))
        errors.append(
            Warning(
                f"OTP_TEST_NUMBERS is set with DEBUG off: {numbers} log in with a fixed code "
                "that anyone who learns it can use. Keep it to store review and test runs.",
                id="accounts.W002",
            )
        )
    return errors


def _e164(number: str) -> str:
    from accounts.errors import InvalidPhoneNumber
    from accounts.identity.phone import normalize_phone

    try:
        return normalize_phone(number).as_e164
    except InvalidPhoneNumber:
        return ""


@register(Tags.security, deploy=False)
def check_android_app_hash(app_configs, **kwargs):
    from accounts.codes.otp import message_for

    app_hash = settings.OTP_ANDROID_APP_HASH
    if not app_hash:
        return []
    if not ANDROID_APP_HASH.fullmatch(app_hash):
        return [
            Error(
                "OTP_ANDROID_APP_HASH must be the 11-character hash of the app's signing key "
                "(letters, digits, + and /), as the SMS Retriever documentation computes it.",
                id="accounts.E010",
            )
        ]
    if settings.SMS_OTP_TEMPLATE and "{android_hash}" not in settings.SMS_OTP_TEMPLATE:
        return [
            Error(
                "SMS_OTP_TEMPLATE must contain {android_hash} when OTP_ANDROID_APP_HASH is set.",
                id="accounts.E010",
            )
        ]
    too_long = []
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            size = sms_bytes(message_for("7" * settings.OTP_LENGTH))
        if size > SMS_SEGMENT_BYTES:
            too_long.append(f"{language}: {size} bytes")
    if too_long:
        return [
            Warning(
                "Android's SMS Retriever reads one SMS segment (140 bytes); the text is longer "
                f"({', '.join(too_long)}). Set a shorter SMS_OTP_TEMPLATE.",
                id="accounts.W003",
            )
        ]
    return []


def sms_bytes(text: str) -> int:
    """Bytes the text takes in one SMS: 7 bits a character in the GSM alphabet (taken
    here as printable ASCII and newlines), 2 bytes a character (UCS-2) otherwise."""
    if all(char == "\n" or " " <= char <= "~" for char in text):
        return -(-len(text) * 7 // 8)
    return len(text.encode("utf-16-be"))


@register(Tags.security, deploy=False)
def check_metrics(app_configs, **kwargs):
    if settings.METRICS_ENABLED and not settings.METRICS_TOKEN and not settings.DEBUG:
        return [
            Warning(
                "METRICS_ENABLED without METRICS_TOKEN: anyone who reaches /metrics reads it. "
                "Set a token, or keep /metrics off the public internet at the proxy.",
                id="accounts.W004",
            )
        ]
    return []


@register(Tags.security, deploy=False)
def check_cors_origins(app_configs, **kwargs):
    """Exact http(s) origins only: no wildcard, no `null` (sandboxed frames and files)."""
    errors = []
    for origin in settings.CORS_ALLOWED_ORIGINS:
        parts = urlsplit(origin)
        exact = (
            parts.scheme in ("http", "https")
            and parts.hostname
            and not (parts.path or parts.query or parts.fragment or parts.username)
            and origin == f"{parts.scheme}://{parts.netloc}"
        )
        if not exact:
            errors.append(
                Error(
                    f"CORS_ALLOWED_ORIGINS: {origin!r} is not an origin. Give each as "
                    "scheme://host[:port], e.g. https://app.example.com, with no path, "
                    "no trailing slash and no wildcard, separated by commas.",
                    id="accounts.E007",
                )
            )
    return errors


@register(Tags.security, deploy=False)
def check_jwt_keys(app_configs, **kwargs):
    from accounts.sessions.keys import KeyFileError, read_key_set

    try:
        read_key_set()
    except KeyFileError as error:
        return [Error(f"Access tokens cannot be signed: {error}", id="accounts.E008")]
    return []


@register(Tags.security, deploy=False)
def check_claims_hook(app_configs, **kwargs):
    from accounts.sessions.claims import problems

    return [Error(problem, id="accounts.E014") for problem in problems()]


@register(Tags.security, deploy=False)
def check_sms_economy(app_configs, **kwargs):
    """The budget split, the range throttle and the bot check: values that would silently
    turn a defence off, or fail on the first send, stop the service at start-up."""
    errors = []
    if settings.OTP_MAX_SENDS_PER_HOUR_HARD < settings.OTP_MAX_SENDS_PER_HOUR:
        errors.append(
            Error(
                "OTP_MAX_SENDS_PER_HOUR_HARD must be at least OTP_MAX_SENDS_PER_HOUR.",
                id="accounts.E012",
            )
        )
    for region, limit in settings.SMS_MAX_PER_HOUR_BY_REGION.items():
        if limit < 0 or not (len(region) == 2 and region.isalpha()):
            errors.append(
                Error(f"SMS_MAX_PER_HOUR_BY_REGION: {region}={limit}.", id="accounts.E012")
            )
    try:
        check = bot_check.backend()
    except ImportError as error:
        errors.append(Error(f"BOT_CHECK_BACKEND: {error}.", id="accounts.E013"))
        return errors
    if check is not None and not isinstance(check, bot_check.BotCheck):
        errors.append(Error("BOT_CHECK_BACKEND must name a BotCheck.", id="accounts.E013"))
    if check is not None:
        for name in ("BOT_CHECK_SECRET", "BOT_CHECK_SITE_KEY"):
            if not getattr(settings, name):
                errors.append(
                    Error(f"BOT_CHECK_BACKEND={check.name} needs {name}.", id="accounts.E013")
                )
    return errors


def _check_proxies() -> list[Error]:
    errors = []
    try:
        networks.parse_networks(settings.TRUSTED_PROXIES)
    except ValueError as error:
        errors.append(Error(f"TRUSTED_PROXIES: {error}.", id="accounts.E011"))
    if settings.TRUSTED_PROXY_COUNT > 0 and not settings.TRUSTED_PROXIES:
        errors.append(
            Error(
                "TRUSTED_PROXY_COUNT is set but TRUSTED_PROXIES is empty: X-Forwarded-For "
                "is read only from the proxies listed there, so every client would look "
                "like the proxy.",
                hint="List the proxies' addresses or CIDR ranges in TRUSTED_PROXIES.",
                id="accounts.E011",
            )
        )
    return errors


def _check_template():
    from accounts.codes.otp import message_for

    sample = "7" * settings.OTP_LENGTH if 4 <= settings.OTP_LENGTH <= 10 else "7777"
    problems = []
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            try:
                body = message_for(sample)
            except (KeyError, IndexError, ValueError) as exc:
                return [Error(f"SMS_OTP_TEMPLATE cannot be rendered: {exc!r}.", id="accounts.E003")]
        runs = re.findall(rf"(?<!\d)\d{{{len(sample)}}}(?!\d)", body)
        if runs != [sample]:
            problems.append(language)
    if problems:
        return [
            Error(
                "The SMS text must contain {code} once and no other run of OTP_LENGTH "
                f"digits, so phones can pick the code out (languages: {', '.join(problems)}).",
                id="accounts.E004",
            )
        ]
    return []


@register(Tags.security, deploy=False)
def check_webhooks(app_configs, **kwargs):
    """Endpoints that are URLs, a secret to sign with, and retry settings that retry."""
    from accounts.outbound.webhooks import problems

    return [
        Error(text, id="accounts.E015") if stops else Warning(text, id="accounts.W005")
        for text, stops in problems()
    ]
