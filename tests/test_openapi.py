"""The OpenAPI document of the REST URLs is served, and every real answer matches it."""

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from rest.openapi import DOCUMENT

rest_api = schemathesis.openapi.from_dict(DOCUMENT)


def test_the_document_is_served(client):
    response = client.get("/accounts/api/schema/")
    assert response.status_code == 200
    assert response.json() == DOCUMENT


@rest_api.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_matches_the_document(case, in_process_wsgi):
    """No 5xx, and every status, content type and body is one the document describes.
    (A number can be shaped right and still not exist, so a 400 for one is no failure.)"""
    case.call_and_validate(
        app=in_process_wsgi,
        base_url="http://testserver",
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
