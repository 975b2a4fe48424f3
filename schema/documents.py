"""Parsed and checked GraphQL documents, the cheap refusals first, kept by size.

A document is refused, cheapest first: over GRAPHQL_MAX_DOCUMENT_LENGTH characters
(before anything reads it); over GRAPHQL_MAX_TOKENS tokens or comments, or nested
past graphql-core's limit (the parser stops there); over the caps of
`validation.over_caps` (one walk of the syntax tree). Only a document within all of
them meets graphql-core's standard rules, which cost far more per token.

Parsing and validating dominate the cost of a small operation, and clients send the
same few documents over and over, so each process keeps the outcome of the documents
it saw last, up to GRAPHQL_DOCUMENT_CACHE_BYTES. What an entry keeps is bounded by its
tokens: the parser's chain of tokens (comments included) is cut, so each node keeps
only the two tokens that bound it, and refused documents keep their errors without
nodes (their locations stay).
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict

from django.conf import settings
from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSyntaxError,
    Source,
    parse,
    specified_rules,
    validate,
)

from schema.validation import TOO_COMPLEX, over_caps, too_complex

# What the cache charges an entry, besides the document's text: an upper bound,
# measured with tracemalloc (tests/test_documents.py), of what a parsed document keeps
# per token once its token chain is cut, and what an error keeps besides its message.
BYTES_PER_TOKEN = 480
BYTES_PER_ERROR = 1024

# graphql-core ends the messages of its own limits (tokens, comments, nesting) so.
_PARSER_LIMIT = "Parsing aborted."

Checked = DocumentNode | list[GraphQLError]


def checked_document(schema, query: str) -> Checked:
    """The parsed document, or the errors that refuse it."""
    limit = settings.GRAPHQL_MAX_DOCUMENT_LENGTH
    if len(query) > limit:
        return [too_complex(f"The document is too long: {len(query)} characters, at most {limit}.")]
    key = (
        query,
        schema,
        settings.GRAPHQL_INTROSPECTION,
        settings.GRAPHQL_MAX_TOKENS,
        settings.GRAPHQL_MAX_DEPTH,
        settings.GRAPHQL_MAX_FIELDS,
        settings.GRAPHQL_MAX_ALIASES,
        settings.GRAPHQL_MAX_SENSITIVE_FIELDS,
        settings.GRAPHQL_MAX_INTROSPECTION_FIELDS,
        settings.GRAPHQL_MAX_INTROSPECTION_DEPTH,
    )
    outcome = documents.get(key)
    if outcome is None:
        outcome, size = _check(schema, query)
        documents.put(key, outcome, size)
    return outcome


def _check(schema, query: str) -> tuple[Checked, int]:
    """The outcome for `query` and the bytes a cache entry of it is charged: its text
    twice (the key, and the names and values the syntax tree copies out of it, which
    are never longer), and a bound per token or per error."""
    text = 2 * sys.getsizeof(query)
    source = Source(query)
    try:
        document = parse(
            source,
            max_lexical_tokens=settings.GRAPHQL_MAX_TOKENS,
            max_comments=settings.GRAPHQL_MAX_TOKENS,
        )
    except GraphQLSyntaxError as syntax_error:
        error: GraphQLError = syntax_error
        if error.message.endswith(_PARSER_LIMIT):
            error = GraphQLError(
                f"The document is too complex: {error.message}",
                source=source,
                positions=error.positions,
                extensions={"code": TOO_COMPLEX},
            )
        return _kept([error]), text + _charge([error])
    tokens = _cut_token_chain(document)
    # graphql-core's standard rules, all of them (graphene-django's view would
    # replace them, not add to them), once the cheap caps have passed.
    errors = over_caps(document) or validate(schema, document, specified_rules, max_errors=20)
    if errors:
        errors = _kept(errors)
        return errors, text + _charge(errors)
    return document, text + tokens * BYTES_PER_TOKEN


def _cut_token_chain(document: DocumentNode) -> int:
    """Unlink the parser's tokens (each links to the next and the previous, so any
    one of them would keep every token of the text, comments included) and count them."""
    count = 0
    token = document.loc.start_token if document.loc else None
    while token is not None:
        following = token.next
        token.prev = token.next = None
        token = following
        count += 1
    return count


def _kept(errors: list[GraphQLError]) -> list[GraphQLError]:
    """The errors as a client sees them, without the syntax nodes they point at."""
    return [
        GraphQLError(
            error.message,
            source=error.source,
            positions=error.positions,
            extensions=error.extensions,
        )
        for error in errors
    ]


def _charge(errors: list[GraphQLError]) -> int:
    return sum(BYTES_PER_ERROR + sys.getsizeof(error.message) for error in errors)


class Documents:
    """The checked documents of this process, least recently used out first, their
    charges summed under GRAPHQL_DOCUMENT_CACHE_BYTES."""

    def __init__(self) -> None:
        self._entries: OrderedDict[tuple, tuple[Checked, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def charged(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: tuple) -> Checked | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key: tuple, outcome: Checked, size: int) -> None:
        budget = settings.GRAPHQL_DOCUMENT_CACHE_BYTES
        if size > budget:
            return
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._bytes -= previous[1]
            while self._entries and self._bytes + size > budget:
                _key, (_outcome, freed) = self._entries.popitem(last=False)
                self._bytes -= freed
            self._entries[key] = (outcome, size)
            self._bytes += size

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0


documents = Documents()
