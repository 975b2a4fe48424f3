"""What a GraphQL document costs the process: refused cheaply when it is over a cap,
and kept, when it is not, within a byte budget."""

import gc
import sys
import tracemalloc

import pytest
from graphql import get_introspection_query

from bench.run import INLINE_FRAGMENTS, LIST_ARGUMENT
from schema import documents
from schema.schema import schema

PHONE = "09112223344"


@pytest.fixture(autouse=True)
def _fresh_cache():
    documents.documents.clear()
    yield
    documents.documents.clear()


@pytest.fixture
def validations(monkeypatch):
    """How many documents graphql-core's standard rules were run over."""
    runs = []
    standard = documents.validate

    def counted(*args, **kwargs):
        runs.append(args[1])
        return standard(*args, **kwargs)

    monkeypatch.setattr(documents, "validate", counted)
    return runs


def refusal(result) -> tuple[str, str]:
    assert result.status == 400, result
    (error,) = result.errors
    return error["extensions"]["code"], error["message"]


def test_a_document_too_long_is_refused_before_it_is_parsed(api, settings, monkeypatch):
    parsed = []
    monkeypatch.setattr(documents, "parse", lambda *a, **k: parsed.append(a))
    query = "{ __typename }" + " " * settings.GRAPHQL_MAX_DOCUMENT_LENGTH
    code, message = refusal(api.gql(query))
    assert code == "QUERY_TOO_COMPLEX" and "too long" in message
    assert parsed == []


@pytest.mark.parametrize(
    "query",
    [
        "{" + " __typename" * 200 + " }",  # tokens
        "{ __typename }" + "\n#" * 200,  # comments
        "{" + " a: __typename" * 60 + " }",  # the parser stops before the end
    ],
)
def test_the_parser_stops_at_the_token_cap(api, validations, query):
    code, message = refusal(api.gql(query))
    assert code == "QUERY_TOO_COMPLEX" and "Parsing aborted" in message
    assert validations == []


@pytest.mark.parametrize(
    "query",
    [
        "{" + " __typename" * 33 + " }",  # fields
        "{" + "".join(f" a{i}: __typename" for i in range(9)) + " }",  # aliases
        "{" + " me {" * 9 + " phoneNumber" + " }" * 9 + " }",  # depth
        "query { ...F } " + " ".join(f"fragment F{i} on Query {{ __typename }}" for i in range(40)),
    ],
)
def test_over_a_cap_is_refused_before_the_standard_rules(api, validations, query):
    assert refusal(api.gql(query))[0] == "QUERY_TOO_COMPLEX"
    assert validations == []


def test_introspection_counts_under_the_caps(api, settings, validations):
    settings.GRAPHQL_INTROSPECTION = True
    settings.GRAPHQL_MAX_TOKENS = 400  # its default when introspection is on
    two = "{ a: __schema { queryType { name } } b: __schema { queryType { name } } }"
    result = api.gql(two)
    assert result.status == 400 and result.error_codes == ["QUERY_TOO_COMPLEX"]
    assert "__schema" in result.errors[0]["message"]
    many = "{" + "".join(f' a{i}: __type(name: "Query") {{ name }}' for i in range(9)) + " }"
    assert set(api.gql(many).error_codes) == {"QUERY_TOO_COMPLEX"}
    assert validations == []
    # The one GraphiQL sends, with every option it may ask for, is within them.
    full = get_introspection_query(
        descriptions=True, specified_by_url=True, directive_is_repeatable=True
    )
    result = api.gql(full)
    assert result.status == 200 and result.data["__schema"]["queryType"]["name"] == "Query"


def test_introspection_off_is_refused_before_the_standard_rules(api, settings, validations):
    settings.GRAPHQL_INTROSPECTION = False
    code, message = refusal(api.gql("{ __schema { queryType { name } } }"))
    assert code == "GRAPHQL_VALIDATION_FAILED" and "introspection" in message
    assert validations == []


def test_the_benchs_dearest_documents_are_within_the_caps(api, validations):
    """The bench measures these as the dearest a client can have checked: the standard
    rules run over both, one accepted, one refused by them."""
    result = api.gql(INLINE_FRAGMENTS)
    assert result.status == 200 and result.data == {"__typename": "Query"}
    assert api.gql(LIST_ARGUMENT).error_codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert len(validations) == 2


def test_a_document_is_checked_once_then_remembered(api, validations):
    query = f'{{ userStatus(phoneNumber: "{PHONE}") {{ exists }} }}'
    for _ in range(3):
        assert api.gql(query).data == {"userStatus": {"exists": False}}
    assert len(validations) == 1


# Documents as large as the caps let them be, each kind keeping something else: the
# text (comments), the syntax tree (tokens), values copied out of the text, errors.
def padded(i: int, limit: int) -> str:
    body = f'{{ userStatus(phoneNumber: "{PHONE}") {{ exists hasPassword }} }} #{i} '
    return body + "x" * (limit - len(body))


def many_tokens(i: int, limit: int) -> str:
    fields = " ".join(f"a{j}: __typename" for j in range(8))
    nested = "{ me {" * 7 + " phoneNumber" + " }" * 7 + " }"
    return f"query Q{i} {{ {fields} ...F }} fragment F on Query {nested}"


def long_value(i: int, limit: int) -> str:
    body = f'{{ userStatus(phoneNumber: "{i}") {{ exists }} }}'
    return body.replace(f'"{i}"', f'"{i}-' + "9" * (limit - len(body) - 1) + '"')


def long_errors(i: int, limit: int) -> str:
    name = "n" * (limit // 24)
    return "{" + "".join(f" {name}{i}x{j}" for j in range(20)) + " }"


def syntax_error(i: int, limit: int) -> str:
    return f"{{ me {i} " + "x" * (limit - 20)


NAME_CACHE_SLACK = 4096 * 65

FAMILIES = [padded, many_tokens, long_value, long_errors, syntax_error]


def warm_up(family, limit: int) -> None:
    """Check enough documents of the family that whatever the interpreter and the
    libraries keep for good (lazy imports, CPython's bounded cache of attribute names
    looked up on types) is full, then empty the document cache. Tracing has started:
    what the bounded caches replace from then on is counted out as it is counted in."""
    for i in range(-300, 0):
        documents.checked_document(schema.graphql_schema, family(i, limit))
    documents.documents.clear()
    gc.collect()


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.__name__)
def test_what_an_entry_keeps_is_no_more_than_it_is_charged(settings, family):
    """tracemalloc counts what the cache holds after the documents; the cache's own
    account of it must not be below that, or the byte bound would not be one."""
    limit = settings.GRAPHQL_MAX_DOCUMENT_LENGTH
    graphql_schema = schema.graphql_schema
    count = 100
    queries = [family(i, limit) for i in range(count)]
    assert all(len(q) <= limit for q in queries)
    tracemalloc.start()
    try:
        warm_up(family, limit)
        before = tracemalloc.get_traced_memory()[0]
        for query in queries:
            documents.checked_document(graphql_schema, query)
        del query
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    queries_size = sum(sys.getsizeof(q) for q in queries)
    assert len(documents.documents) == count
    # The texts themselves were allocated before tracing began: the cache's keys share
    # them, and its charge includes them. CPython's cache of attribute names (4,096
    # names of about 65 bytes) replaces entries as validation looks names up, which
    # tracemalloc sees as up to that much coming and going: the slack.
    assert held + queries_size <= documents.documents.charged + NAME_CACHE_SLACK
    # ...and not so far above it that the budget would hold far fewer than it could.
    assert documents.documents.charged <= 3 * (held + queries_size)


def test_the_cache_stays_within_its_bytes(settings):
    settings.GRAPHQL_DOCUMENT_CACHE_BYTES = 256 * 1024
    limit = settings.GRAPHQL_MAX_DOCUMENT_LENGTH
    graphql_schema = schema.graphql_schema
    tracemalloc.start()
    try:
        for family in FAMILIES:
            warm_up(family, limit)
        before = tracemalloc.get_traced_memory()[0]
        for i in range(400):
            family = FAMILIES[i % len(FAMILIES)]
            documents.checked_document(graphql_schema, family(i, limit))
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert 0 < documents.documents.charged <= settings.GRAPHQL_DOCUMENT_CACHE_BYTES
    # 400 documents of up to 8 KB went through; what stays is the budget's worth.
    assert held <= settings.GRAPHQL_DOCUMENT_CACHE_BYTES + NAME_CACHE_SLACK
    assert len(documents.documents) < 400
