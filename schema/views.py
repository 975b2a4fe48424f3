"""The /graphql view: graphene-django's, with this service's error mapping."""

from __future__ import annotations

import logging
import re

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, HttpResponseNotAllowed
from django.utils.translation import gettext as _
from graphene.utils.str_converters import to_camel_case
from graphene_django.views import GraphQLView as BaseGraphQLView
from graphene_django.views import HttpError
from graphql import ExecutionResult, GraphQLError, OperationType, execute, get_operation_ast

from accounts.errors import (
    AccountsError,
    BadRequest,
    BadUserInput,
    GraphQLValidationFailed,
    InternalError,
    InvalidInput,
    RateLimited,
    RequestTooLarge,
    UnsupportedMediaType,
)
from project import client_input, tracing
from project.errors import graphql_error
from schema.documents import checked_document

logger = logging.getLogger("accounts")


# graphql-core appends " Did you mean 'x'?" to messages about unknown names.
_SUGGESTION = re.compile(r" Did you mean .*\?$", re.DOTALL)


def format_accounts_error(error: GraphQLError, original: AccountsError) -> dict:
    """A resolver's `AccountsError`, where it happened, with its extra data."""
    extra = {to_camel_case(key): value for key, value in original.extra.items()}
    return {**error.formatted, **graphql_error(original, **extra)}


def request_errors(errors: list[GraphQLError]) -> list[GraphQLError]:
    """Errors that refused the request before any field ran (variables that do not
    coerce, an unknown or missing operation name), marked as the client's."""
    return [
        GraphQLError(
            error.message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            extensions={"code": BadUserInput.code},
        )
        for error in errors
    ]


# What graphene-django would read from the URL as well as from the body.
_PARAMETERS = frozenset(("query", "variables", "operationName"))

_graphene_dispatch = BaseGraphQLView.dispatch.__wrapped__


class GraphQLView(BaseGraphQLView):
    @staticmethod
    def format_error(error):
        if isinstance(error, HttpError):
            refusal = getattr(error, "accounts_error", None)
            if refusal is not None:
                return graphql_error(refusal)
            too_large = error.response.status_code == RequestTooLarge.status
            code = RequestTooLarge.code if too_large else BadRequest.code
            return {"message": str(error), "extensions": {"code": code}}
        if not isinstance(error, GraphQLError):
            logger.error("Unhandled error in GraphQL request", exc_info=error)
            return graphql_error(InternalError())
        original = error.original_error
        if isinstance(original, AccountsError):
            return format_accounts_error(error, original)
        if original is not None and not isinstance(original, GraphQLError):
            # A bug, not a client mistake: log it, and tell the client nothing internal.
            logger.error("Unhandled error in GraphQL resolver", exc_info=original)
            return {**error.formatted, **graphql_error(InternalError())}
        # The document or its variables: the client's mistake, in graphql-core's words.
        formatted = dict(error.formatted)
        extensions = dict(formatted.get("extensions") or {})
        extensions.setdefault("code", GraphQLValidationFailed.code)
        formatted["extensions"] = extensions
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
            raise refused(
                InvalidInput(_("%(field)s: this field is required.") % {"field": "query"})
            )
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
        with _operation_span(operation):
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
        lone surrogates or NUL, no stack-deep nesting), batching left off, and a POST
        read only as a JSON (or application/graphql) body."""
        try:
            body = request.body  # read here first, so a too-large body is a 413, not a 400
        except RequestDataTooBig:
            raise refused(RequestTooLarge()) from None
        if request.method == "POST" and _PARAMETERS.intersection(request.GET):
            # A document in a POST's URL is how a form on another site would send one.
            raise refused(UnsupportedMediaType(reason="document in the query string"))
        content_type = self.get_content_type(request)
        try:
            if content_type == "application/graphql":
                return {"query": client_input.decode(body)}
            if content_type == "application/json":
                data = client_input.loads(body)
                if not isinstance(data, dict):
                    raise InvalidInput(_("The body must be a JSON object."))
                return data
        except InvalidInput as error:
            raise refused(error) from None
        if request.method == "POST":
            # Forms, multipart and text/plain are what a page on another site can make a
            # browser post without asking (no CORS preflight): none is read.
            raise refused(UnsupportedMediaType(reason=f"content type {content_type[:60]!r}"))
        return {}

    @staticmethod
    def get_graphql_params(request, data):
        query, variables, operation_name, id = BaseGraphQLView.get_graphql_params(request, data)
        must_be = _("%(field)s: must be a string.")
        try:
            if query is not None and not isinstance(query, str):
                raise InvalidInput(must_be % {"field": "query"})
            if variables is not None and not isinstance(variables, dict):
                raise InvalidInput(_("%(field)s: must be an object.") % {"field": "variables"})
            if operation_name is not None and not isinstance(operation_name, str):
                raise InvalidInput(must_be % {"field": "operationName"})
            # The one check of client text on this door, wherever it came from: the JSON
            # body, a form, or the query string.
            client_input.check_text((query, variables, operation_name))
        except InvalidInput as error:
            raise refused(error) from None
        return query, variables, operation_name, id


def refused(error: AccountsError) -> HttpError:
    """An `HttpError` that answers `error` before any field runs (graphene-django's
    way out of `parse_body` and `get_graphql_params`)."""
    # graphene-django answers with this response's status and `format_error`'s body.
    http_error = HttpError(HttpResponse(status=error.status), str(error.message))
    http_error.accounts_error = error
    return http_error


def _operation_span(operation):
    """The span of one GraphQL operation, by its type and name, never its variables (a
    shared no-op when tracing is off)."""
    if not tracing.ENABLED:
        return tracing.NOTHING
    if operation is None:
        return tracing.span("graphql")
    kind = operation.operation.value
    name = operation.name.value if operation.name else ""
    attributes = {"graphql.operation.type": kind, "graphql.operation.name": name}
    return tracing.span(f"graphql {kind} {name}".rstrip(), attributes)
