"""The GraphQL schema served at /graphql."""

from schema.schema import schema

__all__ = ["schema"]
