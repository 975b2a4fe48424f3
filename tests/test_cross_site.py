"""Requests a page on another site can make a browser send (no CORS preflight) change
nothing: GraphQL reads only JSON bodies, and Fetch Metadata or a foreign `Origin` is
refused wherever codes are sent or secrets checked. Native clients, which send neither
header, are served as before. (The same, in a real Chromium: test_cross_site_browser.py.)"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from accounts.codes.sms import outbox
from tests.helpers import PHONE

SEND = f'mutation {{ sendOtp(phoneNumber: "{PHONE}") {{ sent }} }}'
GUESS = f'mutation {{ tokenAuth(phoneNumber: "{PHONE}", password: "123456") {{ token }} }}'
ATTACKER = "https://attacker.example"
LISTED = "https://app.example.com"


@pytest.fixture
def listed(settings):
    settings.CORS_ALLOWED_ORIGINS = [LISTED]


def _graphql_code(response) -> str:
    return response.json()["errors"][0]["extensions"]["code"]


@pytest.mark.parametrize("document", [SEND, GUESS])
def test_a_graphql_form_post_runs_nothing(api, document):
    urlencoded = api.client.post("/graphql", {"query": document})  # a cross-site <form>
    multipart = api.client.post(
        "/graphql", {"query": document}, content_type="multipart/form-data; boundary=BoUnDaRy"
    )
    for response in (urlencoded, multipart):
        assert response.status_code == 415
        assert _graphql_code(response) == "UNSUPPORTED_MEDIA_TYPE"
    assert outbox == []


def test_a_graphql_text_plain_post_runs_nothing(api):
    as_json = api.client.post(
        "/graphql", json.dumps({"query": SEND}), content_type="text/plain;charset=UTF-8"
    )
    in_the_url = api.client.post(
        f"/graphql?query={quote(SEND)}", "anything", content_type="text/plain"
    )
    for response in (as_json, in_the_url):
        assert response.status_code == 415
        assert _graphql_code(response) == "UNSUPPORTED_MEDIA_TYPE"
    assert outbox == []


def test_a_document_in_a_posts_url_is_refused_even_with_a_json_body(api):
    response = api.client.post(
        f"/graphql?query={quote(SEND)}", json.dumps({}), content_type="application/json"
    )
    assert response.status_code == 415 and outbox == []


def test_json_and_application_graphql_bodies_still_run(api):
    assert api.gql(SEND).data == {"sendOtp": {"sent": True}}
    raw = api.client.post("/graphql", "{ __typename }", content_type="application/graphql")
    assert raw.json() == {"data": {"__typename": "Query"}}
    # A query (never a mutation) may still come by GET, as graphene-django allows.
    assert api.get("/graphql?query=" + quote("{ __typename }")).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_SEC_FETCH_SITE": "cross-site"},  # an <img>, in every current browser
        {"HTTP_SEC_FETCH_SITE": "same-site"},  # a page on a sibling subdomain
        {"HTTP_SEC_FETCH_SITE": "cross-site", "HTTP_ORIGIN": ATTACKER},
        {"HTTP_ORIGIN": ATTACKER},  # an older browser's cross-site form post
        {"HTTP_ORIGIN": "null"},  # a sandboxed frame
    ],
)
def test_a_request_another_sites_page_made_sends_no_code(api, listed, headers):
    seed_get = api.get(f"/accounts/api/otp/{PHONE}/", **headers)
    form = api.client.post(f"/accounts/api/otp/{PHONE}/", {}, **headers)
    login = api.client.post(
        "/accounts/api/token/", {"phone_number": PHONE, "password": "x" * 12}, **headers
    )
    graphql = api.gql(SEND, **headers)
    for response in (seed_get, form, login):
        assert response.status_code == 403
        assert response.json()["code"] == "CROSS_SITE_REQUEST"
    assert graphql.status == 403 and graphql.error_codes == ["CROSS_SITE_REQUEST"]
    assert outbox == []


@pytest.mark.parametrize(
    "headers",
    [
        {},  # curl, a mobile app, a server: no Fetch Metadata, no Origin
        {"HTTP_SEC_FETCH_SITE": "none"},  # typed into the address bar
        {"HTTP_SEC_FETCH_SITE": "same-origin", "HTTP_ORIGIN": "http://testserver"},
        {"HTTP_ORIGIN": "http://testserver"},
        {"HTTP_SEC_FETCH_SITE": "cross-site", "HTTP_ORIGIN": LISTED},
        {"HTTP_SEC_FETCH_SITE": "same-site", "HTTP_ORIGIN": LISTED},
    ],
)
def test_native_clients_the_service_itself_and_listed_origins_are_served(api, listed, headers):
    assert api.get(f"/accounts/api/otp/{PHONE}/", **headers).status_code == 200
    assert len(outbox) == 1


def test_a_listed_origin_is_matched_exactly(api, listed):
    for origin in (LISTED + ".attacker.example", "http://app.example.com", LISTED + ":8443"):
        response = api.get(f"/accounts/api/otp/{PHONE}/", HTTP_ORIGIN=origin)
        assert response.status_code == 403, origin
    assert outbox == []


def test_public_routes_answer_any_site(api):
    cross = {"HTTP_SEC_FETCH_SITE": "cross-site", "HTTP_ORIGIN": ATTACKER}
    assert api.get("/livez", **cross).status_code == 200
    assert api.get("/.well-known/jwks.json", **cross).status_code in (200, 404)


def test_the_refusal_is_in_the_requests_language(api):
    response = api.get(
        f"/accounts/api/otp/{PHONE}/", HTTP_SEC_FETCH_SITE="cross-site", HTTP_ACCEPT_LANGUAGE="fa"
    )
    assert (
        response.json()["detail"]
        == "درخواست‌هایی که صفحه‌های سایت‌های دیگر می‌فرستند اینجا پذیرفته نمی‌شوند."
    )
