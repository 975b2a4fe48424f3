"""Kavenegar's verify-lookup API: the code fills a template defined in Kavenegar's panel.

Options (`SMS_PROVIDERS`): `api_key`, `template`, `base_url`; by default the settings
KAVENEGAR_API_KEY, KAVENEGAR_TEMPLATE, KAVENEGAR_BASE_URL.
https://kavenegar.com/rest.html#sms-Lookup
"""

from __future__ import annotations

import httpx
from django.conf import settings

from accounts.codes.sms.backends.base import SMSMessage
from accounts.codes.sms.backends.http import HTTPProviderBackend, code_in

# Kavenegar's documented status codes, as reasons for the log.
STATUS_REASONS: dict[object, str] = {
    400: "incomplete parameters",
    401: "account disabled",
    403: "invalid API key",
    404: "unknown method",
    405: "wrong HTTP method",
    411: "invalid recipient",
    412: "invalid sender line",
    413: "message empty or too long",
    414: "too many recipients",
    417: "invalid date",
    418: "insufficient credit",
    419: "mismatched recipients and messages",
    422: "invalid characters in the token",
    424: "template not found",
    426: "this method needs an advanced plan",
    428: "voice call needs numeric tokens",
    431: "invalid code structure",
    432: "code parameter missing from the template",
}
# The codes that are about the number itself: no other provider is tried.
FINAL = frozenset({411})


def national_number(e164: str) -> str:
    """Kavenegar wants Iranian numbers as 09…; others with the 00 prefix."""
    return "0" + e164[3:] if e164.startswith("+98") else "00" + e164[1:]


class SMSBackend(HTTPProviderBackend):
    provider = "kavenegar"
    reasons = STATUS_REASONS
    final: frozenset[object] = FINAL
    required = (("api_key", "KAVENEGAR_API_KEY"), ("template", "KAVENEGAR_TEMPLATE"))

    def request(self, client: httpx.Client, message: SMSMessage) -> httpx.Response:
        base = self.option("base_url", settings.KAVENEGAR_BASE_URL).rstrip("/")
        api_key = self.option("api_key", settings.KAVENEGAR_API_KEY)
        return client.post(
            f"{base}/v1/{api_key}/verify/lookup.json",
            data={
                "receptor": national_number(message.to),
                "token": message.code,
                "template": self.option("template", settings.KAVENEGAR_TEMPLATE),
            },
        )

    def check(self, response: httpx.Response) -> None:
        status = code_in(response, "return.status")
        if status is None:
            status = response.status_code  # its HTTP statuses are its status codes
        if response.status_code == 200 and status == 200:
            return
        raise self.refused(status)
