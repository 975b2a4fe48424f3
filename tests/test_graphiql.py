"""GraphiQL is served entirely by this server: the copies of its files are the versions
graphene-django pins, byte for byte but for a removed source-map comment, and the page
references nothing outside this server."""

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from graphene_django.views import GraphQLView

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "static" / "graphiql"
MANIFEST = json.loads((FOLDER / "MANIFEST.json").read_text())

VERSION_ATTRIBUTE = {
    "graphiql": "graphiql_version",
    "@graphiql/plugin-explorer": "graphiql_plugin_explorer_version",
    "whatwg-fetch": "whatwg_fetch_version",
    "react": "react_version",
    "react-dom": "react_version",
    "graphql-ws": "subscriptions_transport_ws_version",
}


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_copies_are_the_versions_graphene_django_pins(name):
    entry = MANIFEST[name]
    assert entry["version"] == getattr(GraphQLView, VERSION_ATTRIBUTE[entry["package"]])
    data = (FOLDER / name).read_bytes()
    assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    upstream = data + entry["removed_suffix"].encode()
    integrity = "sha256-" + base64.b64encode(hashlib.sha256(upstream).digest()).decode()
    assert integrity == getattr(GraphQLView, entry["graphene_sri_attribute"])
    assert b"sourceMappingURL" not in data[-200:]


def test_every_pinned_file_is_copied():
    attributes = {entry["graphene_sri_attribute"] for entry in MANIFEST.values()}
    pinned = {name for name in vars(GraphQLView) if name.endswith("_sri")}
    assert attributes == pinned


def test_the_page_references_only_this_server(api, settings):
    settings.GRAPHIQL_ENABLED = True
    page = api.get("/graphql", HTTP_ACCEPT="text/html").content.decode()
    urls = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert len(urls) == 9
    for url in urls:
        assert url.startswith("/static/"), url
        assert finders.find(url.removeprefix("/static/")), url
    assert "integrity=" not in page
    assert "cdn." not in page and "https://" not in page
