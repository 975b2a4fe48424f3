"""Twilio's Messages API.

Settings: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM (a number or a messaging
service SID, MG…), TWILIO_BASE_URL.
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


class SMSBackend(HTTPProviderBackend):
    provider = "twilio"

    def request(self, client: httpx.Client, message: SMSMessage) -> httpx.Response:
        base = settings.TWILIO_BASE_URL.rstrip("/")
        sender = settings.TWILIO_FROM
        fields = {"To": message.to, "Body": message.body}
        fields["MessagingServiceSid" if sender.startswith("MG") else "From"] = sender
        return client.post(
            f"{base}/2010-04-01/Accounts/{settings.TWILIO_ACCOUNT_SID}/Messages.json",
            data=fields,
            auth=(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN),
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
        raise SMSSendError(f"twilio: HTTP {response.status_code}, error {code} {reason}")
