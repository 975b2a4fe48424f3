"""Melipayamak's shared service line (BaseServiceNumber): the code fills a pattern
approved in Melipayamak's panel and goes out from the shared line for one-time codes.

Options (`SMS_PROVIDERS`): `username`, `password`, `body_id` (the pattern's id),
`base_url`.
https://github.com/Melipayamak/melipayamak-python
"""

from __future__ import annotations

import httpx

from accounts.codes.sms.backends.base import SMSMessage
from accounts.codes.sms.backends.http import HTTPProviderBackend
from accounts.codes.sms.backends.kavenegar import national_number


class SMSBackend(HTTPProviderBackend):
    provider = "melipayamak"
    required = (("username", ""), ("password", ""), ("body_id", ""))
    # Melipayamak's documented `Value`s when a send fails (a message id, when it works,
    # is a long number).
    reasons = {
        "-10": "links are not allowed in the variables",
        "-7": "sender line error",
        "-6": "internal error",
        "-5": "text does not match the pattern's variables",
        "-3": "sender line not defined",
        "-2": "too many recipients",
        "-1": "web service access disabled",
        "0": "wrong username or password",
        "2": "insufficient credit",
        "6": "system being updated",
        "7": "text holds a filtered word",
        "10": "user not active",
        "11": "not sent",
        "12": "account documents incomplete",
        "16": "recipient number not found",
        "17": "empty text",
        "35": "recipient on the blacklist",
    }
    final = frozenset({"16", "35"})

    def request(self, client: httpx.Client, message: SMSMessage) -> httpx.Response:
        base = self.option("base_url", "https://rest.payamak-panel.com").rstrip("/")
        return client.post(
            f"{base}/api/SendSMS/BaseServiceNumber",
            data={
                "username": self.option("username"),
                "password": self.option("password"),
                "to": national_number(message.to),
                "text": message.code,  # the pattern's variables, separated by ';'
                "bodyId": str(self.option("body_id")),
            },
        )

    def check(self, response: httpx.Response) -> None:
        try:
            answer = response.json()
            value, status = str(answer["Value"]), int(answer["RetStatus"])
        except (ValueError, KeyError, TypeError):
            value, status = f"HTTP {response.status_code}", 0
        # A message id is a long number; an error is a short code.
        if response.status_code == 200 and status == 1 and len(value) > 3:
            return
        raise self.refused(value)
