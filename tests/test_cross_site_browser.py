"""A page on another site tries, in a real headless Chromium, every request it can make
its visitor's browser send without asking (an `<img>`, the three form encodings,
`fetch` in `no-cors` mode, `navigator.sendBeacon`) against both doors: not one code is
texted and no code is guessed. A listed origin's `fetch` still works, and so does a
native client's `GET .../otp/<phone>/`."""

from __future__ import annotations

import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.browser import chromium, launch
from tests.servers import codes_sent, running_server
from tests.test_cors_browser import page_server

pytestmark = [pytest.mark.browser, pytest.mark.processes]

TOKEN = "cross-site-metrics-token"
# One number per attempt, so that a code texted to any of them shows which one got in.
NUMBERS = [f"0935300{i:04d}" for i in range(14)]


def e164(number: str) -> str:
    return "+98" + number[1:]


ATTACK = """
async ([api, numbers]) => {
  const sendOtp = (n) => `mutation { sendOtp(phoneNumber: "${n}") { sent } }`;
  const frames = [];
  const post = (url, enctype, fields) => {
    const frame = document.createElement("iframe");
    frame.name = "f" + frames.length;
    document.body.appendChild(frame);
    frames.push(new Promise((resolve) => { frame.onload = resolve; }));
    const form = document.createElement("form");
    form.method = "POST"; form.action = url; form.enctype = enctype; form.target = frame.name;
    for (const [name, value] of Object.entries(fields)) {
      const input = document.createElement("input");
      input.name = name; input.value = value; form.appendChild(input);
    }
    document.body.appendChild(form);
    form.submit();
  };
  const image = (url) => new Promise((resolve) => {
    const img = new Image(); img.onload = img.onerror = resolve; img.src = url;
  });
  const graphql = api + "/graphql";
  const otp = (n) => `${api}/accounts/api/otp/${n}/`;
  const waits = [image(otp(numbers[0]))];
  post(graphql, "application/x-www-form-urlencoded", {query: sendOtp(numbers[1])});
  post(graphql, "multipart/form-data", {query: sendOtp(numbers[2])});
  post(graphql + "?query=" + encodeURIComponent(sendOtp(numbers[3])), "text/plain", {x: "y"});
  waits.push(fetch(graphql, {method: "POST", mode: "no-cors",
    headers: {"Content-Type": "text/plain"}, body: JSON.stringify({query: sendOtp(numbers[4])})}));
  const beacons = [
    navigator.sendBeacon(graphql + "?query=" + encodeURIComponent(sendOtp(numbers[5])), "x"),
    navigator.sendBeacon(otp(numbers[6]), new URLSearchParams({a: "b"})),
  ];
  post(otp(numbers[7]), "application/x-www-form-urlencoded", {});
  post(otp(numbers[8]), "multipart/form-data", {a: "b"});
  post(otp(numbers[9]), "text/plain", {a: "b"});
  waits.push(fetch(otp(numbers[10]), {method: "POST", mode: "no-cors",
    body: new URLSearchParams({a: "b"})}));
  waits.push(fetch(otp(numbers[11]), {mode: "no-cors"}));
  post(api + "/accounts/api/token/", "application/x-www-form-urlencoded",
       {phone_number: numbers[12], password: "123456"});
  post(graphql, "application/x-www-form-urlencoded", {query:
    `mutation { tokenAuth(phoneNumber: "${numbers[12]}", password: "123456") { token } }`});
  await Promise.all([...waits.map((w) => w.catch(() => null)), ...frames]);
  return {requests: 12, beacons};
}
"""

LISTED_SEND = """
async ([api, number]) => {
  const response = await fetch(api + "/graphql", {method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({query: `mutation { sendOtp(phoneNumber: "${number}") { sent } }`})});
  return [response.status, await response.json()];
}
"""


def _answered(server) -> dict[str, float]:
    """Requests answered so far, by status class (the service's own metrics)."""
    request = urllib.request.Request(
        server.url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode()
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (
                sample.name == "accounts_http_requests_total"
                and sample.labels["route"] not in ("metrics", "livez")  # the test's own
            ):
                status = sample.labels["status"]
                totals[status] = totals.get(status, 0) + sample.value
    return totals


def test_another_sites_page_texts_no_code_and_guesses_nothing(tmp_path):
    executable = chromium()
    from playwright.sync_api import sync_playwright

    with (
        page_server() as port,
        running_server(
            tmp_path,
            CORS_ALLOWED_ORIGINS=f"http://localhost:{port}",
            METRICS_ENABLED="1",
            METRICS_TOKEN=TOKEN,
            PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
        ) as api,
        sync_playwright() as playwright,
    ):
        browser = launch(playwright, executable)
        try:
            attacker = browser.new_page()
            attacker.goto(f"http://attacker.localhost:{port}/")
            sent = attacker.evaluate(ATTACK, [api.url, NUMBERS])
            assert all(sent["beacons"]), "Chromium queued every beacon"
            # Wait until the service has answered every attempt (beacons are not awaited).
            expected = sent["requests"] + len(sent["beacons"])
            deadline = time.monotonic() + 30
            while (answered := _answered(api)).get("4xx", 0) < expected:
                assert time.monotonic() < deadline, answered
                time.sleep(0.1)
            assert answered == {"4xx": expected}, answered  # nothing was served
            assert [n for n in NUMBERS if codes_sent(api.sms_dir, e164(n))] == []

            app = browser.new_page()
            app.goto(f"http://localhost:{port}/")
            status, body = app.evaluate(LISTED_SEND, [api.url, NUMBERS[13]])
            assert (status, body) == (200, {"data": {"sendOtp": {"sent": True}}})
        finally:
            browser.close()
        # A native client (no Fetch Metadata, no Origin) keeps the seed's GET.
        assert api.get(f"/accounts/api/otp/{NUMBERS[0]}/")[0] == 200
    assert len(codes_sent(api.sms_dir, e164(NUMBERS[13]))) == 1
    assert len(codes_sent(api.sms_dir, e164(NUMBERS[0]))) == 1
