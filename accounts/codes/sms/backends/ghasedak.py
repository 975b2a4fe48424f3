"""Ghasedak's OTP template API (verification/send/simple): the code fills a template
defined in Ghasedak's panel.

Options (`SMS_PROVIDERS`): `api_key`, `template`, `base_url`.
https://ghasedak.me/docs
"""

from __future__ import annotations

import httpx

from accounts.codes.sms.backends.base import SMSMessage
from accounts.codes.sms.backends.http import HTTPProviderBackend, code_in
from accounts.codes.sms.backends.kavenegar import national_number


class SMSBackend(HTTPProviderBackend):
    provider = "ghasedak"
    required = (("api_key", ""), ("template", ""))
    # Ghasedak's documented `result.code` values.
    reasons = {
        400: "incomplete parameters",
        401: "account disabled",
        402: "operation failed",
        403: "invalid API key",
        406: "required parameters empty",
        409: "server cannot answer now",
        411: "invalid recipient",
        412: "invalid sender line",
        416: "calling address not allowed",
        418: "insufficient credit",
        422: "invalid characters",
        424: "template not found",
        429: "address throttled",
        451: "too many calls from this address",
    }
    final = frozenset({411})

    def request(self, client: httpx.Client, message: SMSMessage) -> httpx.Response:
        base = self.option("base_url", "https://api.ghasedak.me").rstrip("/")
        return client.post(
            f"{base}/v2/verification/send/simple",
            headers={"apikey": self.option("api_key")},
            data={
                "receptor": national_number(message.to),
                "type": "1",  # a text; 2 is a voice call
                "template": self.option("template"),
                "param1": message.code,
            },
        )

    def check(self, response: httpx.Response) -> None:
        code = code_in(response, "result.code")
        if response.status_code == 200 and code == 200:
            return
        raise self.refused(f"HTTP {response.status_code}" if code is None else code)
