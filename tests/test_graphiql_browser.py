"""GraphiQL in a real headless Chromium, against a real server with no internet:
the page renders the editor, a userStatus query typed into it runs, and the result pane
shows the answer. A screenshot is saved to test-artifacts/graphiql.png."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .servers import ROOT, Server, base_env, manage, migrate, shared_database

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
QUERY = '{ userStatus(phoneNumber: "09112223344") { phoneNumber exists hasPassword } }'


def chromium() -> str:
    """Debian's Chromium, installed here when missing (as root, from Debian's packages)."""
    if not Path(CHROMIUM).exists():
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            pytest.skip(
                "Chromium is not installed and cannot be installed (needs root and apt-get)"
            )
        for command in (
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "chromium"],
        ):
            try:
                result = subprocess.run(
                    command,
                    capture_output=True,
                    check=False,
                    timeout=900,
                    env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
                )
            except subprocess.TimeoutExpired:
                pytest.skip(f"Chromium could not be installed: {' '.join(command)} timed out")
            if result.returncode != 0:
                pytest.skip(f"Chromium could not be installed: {result.stderr.decode()[-300:]}")
    return CHROMIUM


@pytest.fixture
def graphiql_server(tmp_path):
    with shared_database(tmp_path) as database_url:
        env = base_env(
            database_url,
            tmp_path / "sms",
            GRAPHIQL_ENABLED="1",
            STATIC_ROOT=str(tmp_path / "static"),
        )
        migrate(env)
        manage(env, "collectstatic", "--noinput")
        server = Server(env, workers=1)
        try:
            yield server
        finally:
            server.stop()


def test_graphiql_runs_a_query_in_chromium(graphiql_server):
    executable = chromium()
    from playwright.sync_api import sync_playwright

    outside_requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.on(
                "request",
                lambda request: (
                    None
                    if request.url.startswith(graphiql_server.url)
                    else outside_requests.append(request.url)
                ),
            )
            page.goto(f"{graphiql_server.url}/graphql", wait_until="networkidle")
            editor = page.locator(".graphiql-query-editor .CodeMirror")
            editor.wait_for(timeout=15_000)
            editor.click()
            page.keyboard.press("Control+A")
            page.keyboard.press("Delete")
            page.keyboard.insert_text(QUERY)
            page.locator("button.graphiql-execute-button").click()
            result = page.locator(".result-window")
            result.get_by_text('"exists"').wait_for(timeout=15_000)
            text = result.inner_text()
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "graphiql.png"))
        finally:
            browser.close()
    assert '"phoneNumber": "+989112223344"' in text
    assert '"exists": false' in text
    assert outside_requests == []
