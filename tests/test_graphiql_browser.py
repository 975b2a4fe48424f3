"""GraphiQL in a real headless Chromium, against a real server with no internet:
the page renders the editor, a userStatus query typed into it runs, and the result pane
shows the answer. A screenshot is saved to test-artifacts/graphiql.png."""

from __future__ import annotations

import pytest

from tests.browser import chromium, launch
from tests.servers import ROOT, running_server

pytestmark = [pytest.mark.browser, pytest.mark.processes]


ARTIFACTS = ROOT / "test-artifacts"
QUERY = '{ userStatus(phoneNumber: "09112223344") { phoneNumber exists hasPassword } }'


@pytest.fixture
def graphiql_server(tmp_path):
    with running_server(
        tmp_path,
        setup=[("collectstatic", "--noinput")],
        GRAPHIQL_ENABLED="1",
        STATIC_ROOT=str(tmp_path / "static"),
    ) as server:
        yield server


def test_graphiql_runs_a_query_in_chromium(graphiql_server):
    executable = chromium()
    from playwright.sync_api import sync_playwright

    outside_requests: list[str] = []
    with sync_playwright() as playwright:
        browser = launch(playwright, executable)
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
