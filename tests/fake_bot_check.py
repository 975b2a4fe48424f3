"""A bot-check provider on 127.0.0.1, for the tests and the attack drill: it answers the
siteverify form as Turnstile, hCaptcha and reCAPTCHA do. A token that starts with
`human-` passes (once, as the real providers accept a token once); any other fails."""

from __future__ import annotations

import threading

from tests.fake_api import FakeApi

SECRET = "bot-check-test-secret"
SITE_KEY = "bot-check-test-site-key"


class FakeBotCheck(FakeApi):
    def __init__(self) -> None:
        self.requests: list[dict[str, str]] = []
        self.seen: set[str] = set()
        self.status = 200  # 500: the provider is down
        self.score: float | None = None  # a scored provider's answer (reCAPTCHA v3)
        self.lock = threading.Lock()
        super().__init__(lambda path, form, headers: self.answer(form))
        self.url += "/siteverify"

    def answer(self, form: dict[str, str]) -> tuple[int, dict]:
        with self.lock:
            self.requests.append(form)
            if self.status >= 500:
                return self.status, {"error": "unavailable"}
            if form.get("secret") != SECRET:
                return 200, {"success": False, "error-codes": ["invalid-input-secret"]}
            token = form.get("response", "")
            if token in self.seen:
                return 200, {"success": False, "error-codes": ["timeout-or-duplicate"]}
            self.seen.add(token)
            if not token.startswith("human-"):
                return 200, {"success": False, "error-codes": ["invalid-input-response"]}
            body: dict = {"success": True, "hostname": "app.example.com", "error-codes": []}
            if self.score is not None:
                body["score"] = self.score
            return 200, body
