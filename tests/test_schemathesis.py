"""Schemathesis generates GraphQL documents from the schema; none may fail on our side."""

import schemathesis
from django.test import Client
from hypothesis import HealthCheck, settings

from schema import schema as graphene_schema

graphql_schema = schemathesis.graphql.from_dict(graphene_schema.introspect())


@graphql_schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_documents_never_fail_on_our_side(case, db):
    response = Client().post("/graphql", {"query": case.body}, content_type="application/json")
    assert response.status_code < 500, response.content
    body = response.json()
    codes = [e.get("extensions", {}).get("code") for e in body.get("errors", [])]
    assert "INTERNAL_ERROR" not in codes, body
