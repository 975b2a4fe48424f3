"""Caps on one GraphQL document, counted after fragments are expanded.

A fragment spread counts its fragment's fields every time it is spread, so a small
document that fans out through fragments is measured by what it would execute.
Costs are memoised per fragment, so measuring stays linear in the document's size.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from django.conf import settings
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
    parse,
    specified_rules,
    validate,
)
from graphql.validation import NoSchemaIntrospectionCustomRule

# Root fields that send an SMS or check a secret.
# The fields that send a code or check a secret: one per document, so aliases cannot
# batch guesses or sends.
SENSITIVE_FIELDS = frozenset(
    {
        "sendOtp",
        "tokenAuth",
        "setPassword",
        "removePassword",
        "changePhoneNumber",
        "deleteAccount",
    }
)
INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})


@dataclass(frozen=True)
class Cost:
    fields: int = 0
    aliases: int = 0
    depth: int = 0
    sensitive: int = 0

    def __add__(self, other: Cost) -> Cost:
        return Cost(
            self.fields + other.fields,
            self.aliases + other.aliases,
            max(self.depth, other.depth),
            self.sensitive + other.sensitive,
        )


class DocumentCost:
    def __init__(self, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self.fragments = fragments
        self.memo: dict[tuple[str, bool], Cost] = {}
        self.visiting: set[str] = set()

    def of_selection_set(self, selection_set: SelectionSetNode | None, root: bool) -> Cost:
        total = Cost()
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                total += self.of_field(selection, root)
            elif isinstance(selection, InlineFragmentNode):
                total += self.of_selection_set(selection.selection_set, root)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.of_fragment(selection.name.value, root)
        return total

    def of_field(self, field: FieldNode, root: bool) -> Cost:
        name = field.name.value
        if name in INTROSPECTION_FIELDS:
            return Cost()  # governed by GRAPHQL_INTROSPECTION, not by these caps
        below = self.of_selection_set(field.selection_set, root=False)
        return Cost(
            fields=below.fields + 1,
            aliases=below.aliases + (1 if field.alias else 0),
            depth=below.depth + 1,
            sensitive=below.sensitive + (1 if root and name in SENSITIVE_FIELDS else 0),
        )

    def of_fragment(self, name: str, root: bool) -> Cost:
        key = (name, root)
        if key in self.memo:
            return self.memo[key]
        fragment = self.fragments.get(name)
        if fragment is None or name in self.visiting:
            return Cost()  # unknown fragments and cycles are reported by the standard rules
        self.visiting.add(name)
        cost = self.of_selection_set(fragment.selection_set, root)
        self.visiting.discard(name)
        self.memo[key] = cost
        return cost


class DocumentLimitsRule(ValidationRule):
    """Refuse documents over GRAPHQL_MAX_DEPTH, _FIELDS, _ALIASES or _SENSITIVE_FIELDS."""

    def enter_document(self, node, *_args):
        fragments = {
            d.name.value: d for d in node.definitions if isinstance(d, FragmentDefinitionNode)
        }
        measure = DocumentCost(fragments)
        cost = Cost()
        for definition in node.definitions:
            if isinstance(definition, OperationDefinitionNode):
                cost += measure.of_selection_set(definition.selection_set, root=True)
        checks = (
            (cost.depth, settings.GRAPHQL_MAX_DEPTH, "levels deep"),
            (cost.fields, settings.GRAPHQL_MAX_FIELDS, "fields"),
            (cost.aliases, settings.GRAPHQL_MAX_ALIASES, "aliases"),
            (
                cost.sensitive,
                settings.GRAPHQL_MAX_SENSITIVE_FIELDS,
                "fields that send a code or check a secret",
            ),
        )
        for value, limit, what in checks:
            if value > limit:
                self.report_error(
                    GraphQLError(
                        f"The document is too complex: {value} {what}, at most {limit}.",
                        extensions={"code": "QUERY_TOO_COMPLEX"},
                    )
                )


def validation_rules() -> tuple[type[ValidationRule], ...]:
    """graphql-core's standard rules plus ours: graphene-django replaces, not extends."""
    rules = (*specified_rules, DocumentLimitsRule)
    if not settings.GRAPHQL_INTROSPECTION:
        rules = (*rules, NoSchemaIntrospectionCustomRule)
    return rules


def checked_document(schema, query: str) -> DocumentNode | list[GraphQLError]:
    """The parsed document, or the errors that refuse it.

    Parsing and validating dominate the cost of a small operation, and clients send
    the same few documents over and over, so each process keeps the results for the
    last 256 distinct (document, rules) pairs. The rules' settings are part of the key.
    """
    fingerprint = (
        settings.GRAPHQL_INTROSPECTION,
        settings.GRAPHQL_MAX_DEPTH,
        settings.GRAPHQL_MAX_FIELDS,
        settings.GRAPHQL_MAX_ALIASES,
        settings.GRAPHQL_MAX_SENSITIVE_FIELDS,
    )
    return _checked_document(schema, query, fingerprint)


@functools.lru_cache(maxsize=256)
def _checked_document(schema, query: str, fingerprint: tuple) -> DocumentNode | list[GraphQLError]:
    try:
        document = parse(query)
    except GraphQLError as error:
        return [error]
    errors = validate(schema, document, validation_rules(), max_errors=20)
    return errors or document
