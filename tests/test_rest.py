"""The REST compatibility URLs: exact shapes, statuses and error bodies."""

import pytest

from accounts.models import User
from tests.helpers import PHONE


def test_form_bodies_work_like_json(api):
    code = api.send_code(PHONE)
    response = api.post_form("/accounts/api/token/", {"phone_number": PHONE, "password": code})
    assert response.status_code == 200
    refresh = response.json()["refresh"]
    response = api.post_form("/accounts/api/token/refresh/", {"refresh": refresh})
    assert response.status_code == 200
    response = api.post_form("/accounts/api/token/verify/", {"token": response.json()["access"]})
    assert response.status_code == 200 and response.json() == {}


def test_send_code_accepts_post_too(api):
    response = api.post(f"/accounts/api/otp/{PHONE}/")
    assert response.status_code == 200
    assert response.json()["details"] == "otp sent"


def test_trailing_slash_is_optional_for_posts(api):
    code = api.send_code(PHONE)
    response = api.post("/accounts/api/token", {"phone_number": PHONE, "password": code})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/accounts/api/token/", {"password": "x"}, "phone_number"),
        ("/accounts/api/token/", {"phone_number": PHONE}, "password"),
        ("/accounts/api/token/", {"phone_number": PHONE, "password": ""}, "password"),
        ("/accounts/api/token/refresh/", {}, "refresh"),
        ("/accounts/api/token/verify/", {}, "token"),
    ],
)
def test_missing_field_is_400_with_a_code(api, path, body, field):
    response = api.post(path, body)
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_INPUT"
    assert field in response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"phone_number": 9112223344, "password": "123456"},
        {"phone_number": PHONE, "password": 123456},
        {"phone_number": [PHONE], "password": {"a": 1}},
        {"phone_number": None, "password": None},
        {"phone_number": True, "password": 1.5},
    ],
)
def test_wrong_types_are_400(api, body):
    response = api.post("/accounts/api/token/", body)
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_INPUT"
    assert User.objects.count() == 0


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b'"a string"', "application/json"),
        (b"\xff\xfe\x00garbage", "application/json"),
        (b"\xff\xfe", "text/plain"),
        (b"null", "application/json"),
    ],
)
def test_malformed_bodies_are_400(api, content, content_type):
    response = api.client.post("/accounts/api/token/", content, content_type=content_type)
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_INPUT"


def test_wrong_method_is_405_json(api):
    response = api.get("/accounts/api/token/")
    assert response.status_code == 405
    assert response.json()["code"] == "METHOD_NOT_ALLOWED"
    assert response["Allow"] == "POST"
    assert api.client.delete(f"/accounts/api/otp/{PHONE}/").status_code == 405


def test_bad_credentials_are_401_with_detail_and_code(api):
    response = api.post("/accounts/api/token/", {"phone_number": PHONE, "password": "123456"})
    assert response.status_code == 401
    assert set(response.json()) == {"detail", "code"}


def test_status_of_unknown_number_is_404_with_detail(api):
    response = api.get(f"/accounts/api/status/{PHONE}/")
    assert response.status_code == 404
    assert "detail" in response.json()


def test_status_of_invalid_number_is_400(api):
    response = api.get("/accounts/api/status/not-a-number/")
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_PHONE_NUMBER"


def test_healthz(api):
    response = api.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/livez"])
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"])
def test_probes_answer_every_method_with_json(api, path, method):
    response = api.client.generic(method, path)
    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "METHOD_NOT_ALLOWED"
    assert response["Allow"] == "GET, HEAD"
    assert api.client.head(path).status_code == 200
