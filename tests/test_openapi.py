"""The OpenAPI document of the REST URLs is served, and every real answer matches it."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.openapi import DOCUMENT
from project.wsgi import application

rest_api = schemathesis.openapi.from_dict(DOCUMENT)


@pytest.fixture
def in_process_wsgi(db):
    """Serve through the WSGI app in this process, on the test database: as Django's
    test client does, keep the app from closing the test's connection after a request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield application
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


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
