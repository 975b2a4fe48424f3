"""Whatever a client sends, the answer is never a 5xx."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=10,
)
fields = st.sampled_from(["phone_number", "password", "refresh", "token"])
bodies = st.dictionaries(fields, json_values, max_size=4) | json_values
paths = st.sampled_from(
    ["/accounts/api/token/", "/accounts/api/token/refresh/", "/accounts/api/token/verify/"]
)
FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(path=paths, body=bodies)
def test_json_bodies_never_5xx(api, path, body):
    response = api.client.post(path, json.dumps(body), content_type="application/json")
    assert response.status_code < 500
    assert "code" in response.json() or response.status_code == 200


@FUZZ
@given(number=st.text(max_size=60))
def test_numbers_in_the_url_never_5xx(api, number):
    from urllib.parse import quote

    for prefix in ("/accounts/api/status/", "/accounts/api/otp/"):
        response = api.client.get(prefix + quote(number, safe="") + "/")
        assert response.status_code < 500


@FUZZ
@given(number=st.text(max_size=60) | st.integers() | st.none(), password=json_values)
def test_graphql_variables_never_5xx(api, number, password):
    query = (
        "mutation($p: String!, $w: String!) { tokenAuth(phoneNumber: $p, password: $w) { token } }"
    )
    response = api.client.post(
        "/graphql",
        json.dumps({"query": query, "variables": {"p": number, "w": password}}),
        content_type="application/json",
    )
    assert response.status_code < 500
