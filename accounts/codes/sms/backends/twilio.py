"""Twilio's Messages API.

Options (`SMS_PROVIDERS`): `account_sid`, `auth_token`, `from` (a number or a messaging
service SID, MG…), `base_url`; by default the settings TWILIO_ACCOUNT_SID,
TWILIO_AUTH_TOKEN, TWILIO_FROM, TWILIO_BASE_URL.
https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource
"""

from __future__ import annotations

import httpx
from django.conf import settings

from accounts.codes.sms.backends.base import SMSMessage, SMSSendError
from accounts.codes.sms.backends.http import HTTPProviderBackend

# The errors a sender of one-time codes meets most, as reasons for the log.
ERROR_REASONS = {
    20003: "authentication failed",
    21211: "invalid 'To' number",
    21408: "sending to this region is not enabled",
    21610: "recipient has unsubscribed",
    21612: "'To' number cannot be reached from this sender",
    21614: "'To' number is not a mobile number",
    21606: "'From' number cannot send SMS",
    30003: "unreachable handset",
}
# The errors about the number itself: no other provider is tried.
FINAL = {21211, 21610, 21614}


class SMSBackend(HTTPProviderBackend):
    provider = "twilio"

    required = (
        ("account_sid", "TWILIO_ACCOUNT_SID"),
        ("auth_token", "TWILIO_AUTH_TOKEN"),
        ("from", "TWILIO_FROM"),
    )

    def request(self, client: httpx.Client, message: SMSMessage) -> httpx.Response:
        base = self.option("base_url", settings.TWILIO_BASE_URL).rstrip("/")
        sender = self.option("from", settings.TWILIO_FROM)
        account = self.option("account_sid", settings.TWILIO_ACCOUNT_SID)
        fields = {"To": message.to, "Body": message.body}
        fields["MessagingServiceSid" if sender.startswith("MG") else "From"] = sender
        return client.post(
            f"{base}/2010-04-01/Accounts/{account}/Messages.json",
            data=fields,
            auth=(account, self.option("auth_token", settings.TWILIO_AUTH_TOKEN)),
        )

    def check(self, response: httpx.Response) -> None:
        if response.status_code in (200, 201):
            return
        try:
            code = int(response.json().get("code"))
        except (ValueError, TypeError, AttributeError):
            code = 0
        # Twilio's own messages quote the phone number, so only the code is kept.
        reason = ERROR_REASONS.get(code, "see Twilio's error reference")
        raise SMSSendError(
            f"twilio: HTTP {response.status_code}, error {code} {reason}", final=code in FINAL
        )
