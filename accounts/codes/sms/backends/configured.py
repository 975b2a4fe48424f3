"""A provider described by its options alone, for an HTTP API no built-in backend speaks.

Options (`SMS_PROVIDERS`, backend `http`):
- `url` (required) and `method` (`POST`, the default, or `GET`);
- `headers`: an object; put secrets in the environment and write `${VAR}`;
- `encoding`: `json` (the default) or `form` for a POST's body; a GET sends it as the query;
- `body`: an object whose strings may hold `{to}` (E.164), `{to_digits}` (without the
  `+`), `{national}` (as dialled at home, `0912…`), `{code}` and `{text}` (the whole
  message); the `url` may hold them too;
- the success rule: `success_status` (a list; by default any 2xx), and, optionally,
  `success_field` (a dotted path into the JSON answer) with `success_value`;
- the errors: `error_field` (a dotted path to the provider's error code), `errors` (code
  -> reason, for the log) and `final_errors` (codes that refuse the number itself: no
  other provider is tried). A code the operator did not list is logged as "unexpected
  answer", never quoted: an answer may echo the message.
"""

from __future__ import annotations

from typing import Any

import httpx
import phonenumbers

from accounts.codes.sms.backends.base import SMSMessage
from accounts.codes.sms.backends.http import HTTPProviderBackend, field, json_of


def fill(template: Any, values: dict[str, str]) -> Any:
    """`template` with each `{name}` of `values` replaced in its strings."""
    if isinstance(template, str):
        for name, value in values.items():
            template = template.replace("{" + name + "}", value)
        return template
    if isinstance(template, dict):
        return {key: fill(item, values) for key, item in template.items()}
    if isinstance(template, list):
        return [fill(item, values) for item in template]
    return template


class SMSBackend(HTTPProviderBackend):
    provider = "http"
    required = (("url", ""),)

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self.provider = str(options.get("name", "http"))
        self.reasons = {
            str(code): str(reason) for code, reason in self.option("errors", {}).items()
        }
        self.final = frozenset(str(code) for code in self.option("final_errors", []))

    def needs(self) -> list[str]:
        missing = super().needs()
        if str(self.option("method", "POST")).upper() not in ("GET", "POST"):
            missing.append("method GET or POST")
        if self.option("encoding", "json") not in ("json", "form"):
            missing.append("encoding json or form")
        return missing

    def request(self, client: httpx.Client, message: SMSMessage) -> httpx.Response:
        number = phonenumbers.parse(message.to)
        national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        values = {
            "to": message.to,
            "to_digits": message.to.lstrip("+"),
            "national": "".join(ch for ch in national if ch.isdigit()),
            "code": message.code,
            "text": message.body,
        }
        url = fill(self.option("url"), values)
        body = fill(self.option("body", {}), values)
        headers = dict(self.option("headers", {}))
        if str(self.option("method", "POST")).upper() == "GET":
            return client.get(url, params=body, headers=headers)
        if self.option("encoding", "json") == "form":
            return client.post(url, data=body, headers=headers)
        return client.post(url, json=body, headers=headers)

    def check(self, response: httpx.Response) -> None:
        statuses = self.option("success_status")
        status_ok = (
            response.status_code in statuses if statuses else 200 <= response.status_code < 300
        )
        answer = json_of(response)
        success_field = self.option("success_field")
        field_ok = not success_field or (
            answer is not None
            and str(field(answer, success_field)) == str(self.option("success_value"))
        )
        if status_ok and field_ok:
            return
        error_field = self.option("error_field")
        code = field(answer, error_field) if error_field and answer is not None else None
        if code is not None and str(code) in self.reasons:
            raise self.refused(str(code))
        raise self.refused(f"HTTP {response.status_code}")
