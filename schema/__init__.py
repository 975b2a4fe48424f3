"""The GraphQL schema served at /graphql."""

from .schema import schema

__all__ = ["schema"]
