"""The /graphql view: graphene-django's, with this service's error mapping."""

from __future__ import annotations

import logging

from django.http import HttpResponseBadRequest
from graphene.utils.str_converters import to_camel_case
from graphene_django.views import GraphQLView as BaseGraphQLView
from graphene_django.views import HttpError
from graphql import GraphQLError

from accounts.errors import AccountsError

logger = logging.getLogger("accounts")


def format_accounts_error(error: GraphQLError, original: AccountsError) -> dict:
    formatted = error.formatted
    formatted["message"] = str(original.message)
    extensions = {"code": original.code}
    extensions.update({to_camel_case(key): value for key, value in original.extra.items()})
    formatted["extensions"] = extensions
    return formatted


class GraphQLView(BaseGraphQLView):
    @staticmethod
    def format_error(error):
        if not isinstance(error, GraphQLError):
            return {"message": str(error), "extensions": {"code": "BAD_REQUEST"}}
        original = error.original_error
        if isinstance(original, AccountsError):
            return format_accounts_error(error, original)
        if original is not None:
            # A bug, not a client mistake: log it, and tell the client nothing internal.
            logger.error("Unhandled error in GraphQL resolver", exc_info=original)
            formatted = error.formatted
            formatted["message"] = "Internal server error."
            formatted["extensions"] = {"code": "INTERNAL_ERROR"}
            return formatted
        formatted = error.formatted
        formatted.setdefault("extensions", {})["code"] = "GRAPHQL_VALIDATION_FAILED"
        return formatted

    def parse_body(self, request):
        try:
            return super().parse_body(request)
        except UnicodeDecodeError:
            raise HttpError(HttpResponseBadRequest("The body is not valid UTF-8.")) from None

    @staticmethod
    def get_graphql_params(request, data):
        query, variables, operation_name, id = BaseGraphQLView.get_graphql_params(request, data)
        if query is not None and not isinstance(query, str):
            raise HttpError(HttpResponseBadRequest("query must be a string."))
        if variables is not None and not isinstance(variables, dict):
            raise HttpError(HttpResponseBadRequest("variables must be an object."))
        if operation_name is not None and not isinstance(operation_name, str):
            raise HttpError(HttpResponseBadRequest("operationName must be a string."))
        return query, variables, operation_name, id
