"""SMS.ir's verify API: the code fills a template approved in SMS.ir's panel, sent from
its service line.

Options (`SMS_PROVIDERS`): `api_key`, `template_id`, `parameter` (the template's
variable, `CODE` by default), `base_url`.
https://app.sms.ir/developer/help/verify
"""

from __future__ import annotations

import httpx

from accounts.codes.sms.backends.base import SMSMessage
from accounts.codes.sms.backends.http import HTTPProviderBackend, code_in
from accounts.codes.sms.backends.kavenegar import national_number


class SMSBackend(HTTPProviderBackend):
    provider = "smsir"
    required = (("api_key", ""), ("template_id", ""))
    # SMS.ir's documented `status` values.
    reasons = {
        0: "server error",
        10: "invalid API key",
        11: "API key disabled",
        12: "API key limited to other addresses",
        13: "account disabled",
        14: "account suspended",
        20: "too many requests",
        101: "invalid sender line",
        102: "insufficient credit",
        103: "empty text",
        104: "invalid mobile number",
        105: "too many mobile numbers",
        111: "invalid template id",
        112: "template parameters do not match",
        113: "template not found or not approved",
    }
    final = frozenset({104})

    def request(self, client: httpx.Client, message: SMSMessage) -> httpx.Response:
        base = self.option("base_url", "https://api.sms.ir").rstrip("/")
        return client.post(
            f"{base}/v1/send/verify",
            headers={"X-API-KEY": self.option("api_key"), "Accept": "application/json"},
            json={
                "mobile": national_number(message.to),
                "templateId": int(self.option("template_id")),
                "parameters": [{"name": self.option("parameter", "CODE"), "value": message.code}],
            },
        )

    def check(self, response: httpx.Response) -> None:
        code = code_in(response, "status")
        if response.status_code == 200 and code == 1:
            return
        raise self.refused(f"HTTP {response.status_code}" if code is None else code)
