"""Bot checks: a challenge a person passes in the client (Cloudflare Turnstile,
hCaptcha, Google reCAPTCHA) and the service verifies with the provider.

`BOT_CHECK_BACKEND` names the provider (`none`, `turnstile`, `hcaptcha`, `recaptcha`, or
the dotted path of a `BotCheck` subclass). A client that is asked for a check
(`CHALLENGE_REQUIRED`, with the provider and `BOT_CHECK_SITE_KEY`) shows the provider's
widget and sends the token it yields with its next request; the service posts it to the
provider's documented verify API (`BOT_CHECK_VERIFY_URL` points elsewhere, e.g. at a
test double) and accepts each token once.
"""

from __future__ import annotations

import functools
import hashlib
import logging

import httpx
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from accounts.abuse import limits
from accounts.errors import ChallengeRequired, ServiceUnavailable
from project.redis_client import RoundTrip

logger = logging.getLogger("accounts")

# Tokens are good for at most five minutes at every provider; a used one is remembered
# a little longer than that.
TOKEN_MEMORY_SECONDS = 600
# Turnstile's tokens are at most 2,048 characters; no provider's is longer.
MAX_TOKEN_LENGTH = 4096


class BotCheck:
    """A provider's server-side verification: POST a form, read `success` (and a
    `score`, where the provider gives one) from the JSON answer."""

    name = "none"
    verify_url = ""

    def fields(self, token: str, client_ip: str) -> dict[str, str]:
        return {"secret": settings.BOT_CHECK_SECRET, "response": token, "remoteip": client_ip}

    def passed(self, answer: dict) -> bool:
        if answer.get("success") is not True:
            return False
        score = answer.get("score")
        return score is None or (
            isinstance(score, int | float) and score >= settings.BOT_CHECK_MIN_SCORE
        )

    def verify(self, token: str, client_ip: str) -> bool:
        """True when the provider says a person passed the check that made `token`;
        `ServiceUnavailable` when the provider cannot be asked."""
        url = settings.BOT_CHECK_VERIFY_URL or self.verify_url
        try:
            response = httpx.post(
                url, data=self.fields(token, client_ip), timeout=settings.BOT_CHECK_TIMEOUT
            )
        except httpx.HTTPError as error:
            raise ServiceUnavailable(reason=f"bot check: {type(error).__name__}") from None
        if response.status_code >= 500:
            raise ServiceUnavailable(reason=f"bot check: HTTP {response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            raise ServiceUnavailable(reason="bot check: an answer that is not JSON") from None
        if not isinstance(answer, dict):
            raise ServiceUnavailable(reason="bot check: an answer that is not an object")
        if not self.passed(answer):
            codes = answer.get("error-codes")
            logger.info("Bot check not passed: %s", codes if isinstance(codes, list) else "-")
            return False
        return True


class Turnstile(BotCheck):
    name = "turnstile"
    verify_url = "https://challenges.cloudflare.com/turnstile/v0/siteverify"


class HCaptcha(BotCheck):
    name = "hcaptcha"
    verify_url = "https://api.hcaptcha.com/siteverify"

    def fields(self, token: str, client_ip: str) -> dict[str, str]:
        # hCaptcha checks the token was made for this site key, when it is given.
        return {**super().fields(token, client_ip), "sitekey": settings.BOT_CHECK_SITE_KEY}


class ReCaptcha(BotCheck):
    name = "recaptcha"
    verify_url = "https://www.google.com/recaptcha/api/siteverify"


BACKENDS = {"turnstile": Turnstile, "hcaptcha": HCaptcha, "recaptcha": ReCaptcha}


@functools.cache
def backend() -> BotCheck | None:
    """The configured bot check; None when `BOT_CHECK_BACKEND=none`."""
    name = settings.BOT_CHECK_BACKEND
    if name in ("", "none"):
        return None
    cls = BACKENDS.get(name) or import_string(name)
    return cls()


def required(reason: str, *, limit: str = "") -> ChallengeRequired:
    """The answer to a send that needs a passed check."""
    check = backend()
    return ChallengeRequired(
        reason=reason,
        limit=limit,
        provider=check.name if check else "none",
        site_key=settings.BOT_CHECK_SITE_KEY,
    )


def passes(token: str | None, client_ip: str, *, reason: str, limit: str = "") -> None:
    """Let a send through that needs a passed check, or raise `ChallengeRequired`:
    `token` must be new here and pass the provider's verification."""
    check = backend()
    if check is None:
        raise AssertionError("passes() without a bot check backend")
    if not token:
        raise required(reason, limit=limit)
    if len(token) > MAX_TOKEN_LENGTH:
        raise required("oversized challenge token", limit=limit)
    trip = RoundTrip()
    digest = hashlib.sha256(token.encode()).hexdigest()
    first = limits.once(trip, f"challenge:{digest}", TOKEN_MEMORY_SECONDS)
    trip.send()
    if not first.value:
        raise required("challenge token used before", limit=limit)
    if not check.verify(token, client_ip):
        raise required("challenge not passed", limit=limit)


@receiver(setting_changed)
def _forget(setting, **kwargs) -> None:
    if setting == "BOT_CHECK_BACKEND":
        backend.cache_clear()
