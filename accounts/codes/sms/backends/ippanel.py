"""IPPanel's (FarazSMS's) pattern API: the code fills a pattern approved in the panel.

Options (`SMS_PROVIDERS`): `api_key`, `pattern_code`, `sender` (the line, as
`+983000505`), `variable` (the pattern's variable, `code` by default), `base_url`.
https://ippanelcom.github.io/Edge-Document/docs/
"""

from __future__ import annotations

import httpx

from accounts.codes.sms.backends.base import SMSMessage
from accounts.codes.sms.backends.http import HTTPProviderBackend


class SMSBackend(HTTPProviderBackend):
    provider = "ippanel"
    required = (("api_key", ""), ("pattern_code", ""), ("sender", ""))
    # The HTTP statuses IPPanel documents for a refused request.
    reasons = {
        400: "invalid request",
        401: "invalid API key",
        403: "not allowed",
        404: "pattern not found",
        422: "invalid parameters or recipient",
    }

    def request(self, client: httpx.Client, message: SMSMessage) -> httpx.Response:
        base = self.option("base_url", "https://api2.ippanel.com").rstrip("/")
        return client.post(
            f"{base}/api/v1/sms/pattern/normal/send",
            headers={"apikey": self.option("api_key"), "Accept": "application/json"},
            json={
                "code": self.option("pattern_code"),
                "sender": self.option("sender"),
                "recipient": message.to,
                "variable": {self.option("variable", "code"): message.code},
            },
        )

    def check(self, response: httpx.Response) -> None:
        try:
            answer = response.json()
            ok = answer.get("status") == "OK" or (answer.get("meta") or {}).get("status") is True
        except (ValueError, AttributeError):
            ok = False
        if response.status_code == 200 and ok:
            return
        raise self.refused(response.status_code)
