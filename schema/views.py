"""The /graphql view: graphene-django's, with this service's error mapping."""

from __future__ import annotations

import logging
import re

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponseBadRequest, HttpResponseNotAllowed
from graphene.utils.str_converters import to_camel_case
from graphene_django.views import GraphQLView as BaseGraphQLView
from graphene_django.views import HttpError
from graphql import ExecutionResult, GraphQLError, OperationType, execute, get_operation_ast

from accounts import client_input
from accounts.errors import AccountsError, InvalidInput, RateLimited
from project.errors import too_large_response

from .validation import checked_document

logger = logging.getLogger("accounts")


# graphql-core appends " Did you mean 'x'?" to messages about unknown names.
_SUGGESTION = re.compile(r" Did you mean .*\?$", re.DOTALL)


def format_accounts_error(error: GraphQLError, original: AccountsError) -> dict:
    formatted = error.formatted
    formatted["message"] = str(original.message)
    extensions = {"code": original.code}
    extensions.update({to_camel_case(key): value for key, value in original.extra.items()})
    formatted["extensions"] = extensions
    return formatted


def request_errors(errors: list[GraphQLError]) -> list[GraphQLError]:
    """Errors that refused the request before any field ran (variables that do not
    coerce, an unknown or missing operation name), marked as the client's."""
    return [
        GraphQLError(
            error.message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            extensions={"code": "BAD_USER_INPUT"},
        )
        for error in errors
    ]


_graphene_dispatch = BaseGraphQLView.dispatch.__wrapped__


class GraphQLView(BaseGraphQLView):
    @staticmethod
    def format_error(error):
        if isinstance(error, HttpError):
            code = "REQUEST_TOO_LARGE" if error.response.status_code == 413 else "BAD_REQUEST"
            return {"message": str(error), "extensions": {"code": code}}
        if not isinstance(error, GraphQLError):
            logger.error("Unhandled error in GraphQL request", exc_info=error)
            return {"message": "Internal server error.", "extensions": {"code": "INTERNAL_ERROR"}}
        original = error.original_error
        if isinstance(original, AccountsError):
            return format_accounts_error(error, original)
        if original is not None and not isinstance(original, GraphQLError):
            # A bug, not a client mistake: log it, and tell the client nothing internal.
            logger.error("Unhandled error in GraphQL resolver", exc_info=original)
            formatted = error.formatted
            formatted["message"] = "Internal server error."
            formatted["extensions"] = {"code": "INTERNAL_ERROR"}
            return formatted
        # The document or its variables: the client's mistake, in graphql-core's words.
        formatted = error.formatted
        formatted.setdefault("extensions", {}).setdefault("code", "GRAPHQL_VALIDATION_FAILED")
        if not settings.GRAPHQL_INTROSPECTION:
            # Suggestions would hand out, name by name, the schema introspection keeps shut.
            formatted["message"] = _SUGGESTION.sub("", formatted["message"])
        return formatted

    @property
    def graphiql(self):
        return settings.GRAPHIQL_ENABLED

    @graphiql.setter
    def graphiql(self, value):
        """GraphiQL follows GRAPHIQL_ENABLED; graphene-django's argument is unused."""

    def dispatch(self, request, *args, **kwargs):
        # graphene-django wraps its dispatch in ensure_csrf_cookie; this view reads no
        # cookie, so it makes no CSRF token for every answer (the undecorated dispatch)
        # and sends no cookie, even where GraphiQL's page asked for a token.
        response = _graphene_dispatch(self, request, *args, **kwargs)
        response.cookies.pop(settings.CSRF_COOKIE_NAME, None)
        request.META["CSRF_COOKIE_NEEDS_UPDATE"] = False
        retry_after = getattr(request, "accounts_retry_after", None)
        if retry_after is not None:
            # RATE_LIMITED keeps HTTP 200, as GraphQL errors do; the header says when.
            response["Retry-After"] = str(retry_after)
        return response

    def execute_graphql_request(
        self, request, data, query, variables, operation_name, show_graphiql=False
    ):
        """graphene-django's, with parsing and validation cached (`checked_document`)."""
        if not query:
            if show_graphiql:
                return None
            raise HttpError(HttpResponseBadRequest("Must provide query string."))
        schema = self.schema.graphql_schema
        document = checked_document(schema, query)
        if isinstance(document, list):
            return ExecutionResult(data=None, errors=document)
        operation = get_operation_ast(document, operation_name)
        if (
            request.method.lower() == "get"
            and operation is not None
            and operation.operation != OperationType.QUERY
        ):
            if show_graphiql:
                return None
            raise HttpError(HttpResponseNotAllowed(["POST"], "Mutations must be sent with POST."))
        result = execute(
            schema,
            document,
            root_value=self.get_root_value(request),
            context_value=self.get_context(request),
            variable_values=variables,
            operation_name=operation_name,
            middleware=self.get_middleware(request),
        )
        if result.data is None and result.errors and all(e.path is None for e in result.errors):
            # No field ran: graphql-core refused the variables or the operation name.
            return ExecutionResult(data=None, errors=request_errors(result.errors))
        waits = [
            e.original_error.retry_after
            for e in result.errors or ()
            if isinstance(e.original_error, RateLimited)
        ]
        if waits:
            request.accounts_retry_after = max(waits)
        return result

    def parse_body(self, request):
        """graphene-django's, with JSON read through `client_input` (strict UTF-8, no
        lone surrogates or NUL, no stack-deep nesting) and batching left off."""
        try:
            body = request.body  # read here first, so a too-large body is a 413, not a 400
        except RequestDataTooBig:
            raise HttpError(too_large_response(request), "The request body is too large.") from None
        content_type = self.get_content_type(request)
        try:
            if content_type == "application/graphql":
                return {"query": body.decode("utf-8")}
            if content_type == "application/json":
                data = client_input.loads(body)
                if not isinstance(data, dict):
                    raise HttpError(HttpResponseBadRequest("The body must be a JSON object."))
                return data
            if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
                return client_input.read_form(request)
        except UnicodeDecodeError:
            raise HttpError(HttpResponseBadRequest("The body is not valid UTF-8.")) from None
        except InvalidInput as error:
            raise HttpError(HttpResponseBadRequest(str(error.message))) from None
        return {}

    @staticmethod
    def get_graphql_params(request, data):
        query, variables, operation_name, id = BaseGraphQLView.get_graphql_params(request, data)
        if query is not None and not isinstance(query, str):
            raise HttpError(HttpResponseBadRequest("query must be a string."))
        if variables is not None and not isinstance(variables, dict):
            raise HttpError(HttpResponseBadRequest("variables must be an object."))
        if operation_name is not None and not isinstance(operation_name, str):
            raise HttpError(HttpResponseBadRequest("operationName must be a string."))
        try:
            # The one check of client text on this door, wherever it came from: the JSON
            # body, a form, or the query string.
            client_input.check_text((query, variables, operation_name))
        except InvalidInput as error:
            raise HttpError(HttpResponseBadRequest(str(error.message))) from None
        return query, variables, operation_name, id
