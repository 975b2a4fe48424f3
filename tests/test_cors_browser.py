"""A browser app on another origin, in a real headless Chromium: a page served from
http://localhost:<port> runs the whole login flow with fetch() against the service on
http://127.0.0.1:<port>, preflights included; the same page from an origin outside
CORS_ALLOWED_ORIGINS is refused by the browser itself."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.browser import chromium, launch

# The app's code: one helper, called step by step from the test.
from tests.helpers import E164, PHONE
from tests.servers import codes_sent, free_port, running_server

pytestmark = [pytest.mark.browser, pytest.mark.processes]


PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>app</title></head><body>
<script>
window.call = async (url, body, token) => {
  const headers = {"Content-Type": "application/json", "Accept-Language": "en"};
  if (token) headers["Authorization"] = "JWT " + token;
  const response = await fetch(url, {method: "POST", headers, body: JSON.stringify(body)});
  return {
    status: response.status,
    body: await response.json(),
    retryAfter: response.headers.get("Retry-After"),
    requestId: response.headers.get("X-Request-ID"),
    language: response.headers.get("Content-Language"),
  };
};
window.graphql = (api, query, variables, token) =>
  window.call(api + "/graphql", {query, variables}, token);
</script></body></html>"""


class PageHandler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args):
        pass


@contextmanager
def page_server():
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), PageHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def app_and_api(tmp_path):
    with (
        page_server() as page_port,
        running_server(tmp_path, CORS_ALLOWED_ORIGINS=f"http://localhost:{page_port}") as api,
    ):
        yield page_port, api, api.sms_dir


@pytest.fixture
def new_page():
    """A page in headless Chromium, closed with its browser after the test."""
    executable = chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright, executable)
        try:
            yield browser.new_page
        finally:
            browser.close()


def test_a_page_on_another_origin_runs_the_whole_flow(app_and_api, new_page):
    page_port, api, sms_dir = app_and_api
    page = new_page()
    page.goto(f"http://localhost:{page_port}/")

    def graphql(query, variables=None, token=None):
        return page.evaluate(
            "([api, q, v, t]) => window.graphql(api, q, v, t)",
            [api.url, query, variables or {}, token],
        )

    status = graphql("query($p: String!) { userStatus(phoneNumber: $p) { exists } }", {"p": PHONE})
    assert status["body"] == {"data": {"userStatus": {"exists": False}}}
    assert status["requestId"] and status["language"] == "en"

    sent = graphql("mutation($p: String!) { sendOtp(phoneNumber: $p) { sent } }", {"p": PHONE})
    assert sent["body"]["data"] == {"sendOtp": {"sent": True}}
    # A 429-like refusal: the browser can read when to try again.
    again = graphql("mutation($p: String!) { sendOtp(phoneNumber: $p) { sent } }", {"p": PHONE})
    assert again["body"]["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert int(again["retryAfter"]) > 0

    code = codes_sent(sms_dir, E164)[-1]
    login = graphql(
        "mutation($p: String!, $w: String!) { tokenAuth(phoneNumber: $p, password: $w)"
        " { token refreshToken } }",
        {"p": PHONE, "w": code},
    )["body"]["data"]["tokenAuth"]

    me = graphql("{ me { phoneNumber } }", token=login["token"])  # a real preflight
    assert me["body"] == {"data": {"me": {"phoneNumber": E164}}}

    rotated = graphql(
        "mutation($t: String!) { refreshToken(refreshToken: $t) { token refreshToken } }",
        {"t": login["refreshToken"]},
    )["body"]["data"]["refreshToken"]
    assert rotated["refreshToken"] != login["refreshToken"]

    verified = page.evaluate(
        "([url, token]) => window.call(url, {token})",
        [f"{api.url}/accounts/api/token/verify/", rotated["token"]],
    )
    assert verified["status"] == 200 and verified["body"] == {}


def test_a_page_on_an_unlisted_origin_is_refused_by_the_browser(app_and_api, new_page):
    page_port, api, _ = app_and_api
    page = new_page()
    page.goto(f"http://127.0.0.1:{page_port}/")  # not http://localhost:<port>
    outcome = page.evaluate(
        """async (api) => {
          try {
            await window.graphql(api, "{ __typename }", {});
            return "answered";
          } catch (error) {
            return error.name + ": " + error.message;
          }
        }""",
        api.url,
    )
    assert outcome == "TypeError: Failed to fetch"
