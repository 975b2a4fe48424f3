"""Caps on one GraphQL document, measured before graphql-core's validation runs.

A fragment spread counts its fragment's fields every time it is spread, so a small
document that fans out through fragments is measured by what it would execute; a
fragment no operation spreads is measured once, as the standard rules will walk it.
Costs are memoised per fragment, so measuring stays linear in the document's size.

Introspection (`__schema`, `__type`) counts too: one such field per document, its
aliases under GRAPHQL_MAX_ALIASES, and everything under it under the introspection
caps, which are sized for the query GraphiQL sends (about 230 fields, 15 levels).
"""

from __future__ import annotations

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
)

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
TOO_COMPLEX = "QUERY_TOO_COMPLEX"


@dataclass(frozen=True)
class Cost:
    fields: int = 0
    aliases: int = 0
    depth: int = 0
    sensitive: int = 0
    introspections: int = 0  # `__schema` and `__type` fields
    introspection_fields: int = 0  # the fields under them, and they
    introspection_depth: int = 0

    def __add__(self, other: Cost) -> Cost:
        return Cost(
            self.fields + other.fields,
            self.aliases + other.aliases,
            max(self.depth, other.depth),
            self.sensitive + other.sensitive,
            self.introspections + other.introspections,
            self.introspection_fields + other.introspection_fields,
            max(self.introspection_depth, other.introspection_depth),
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
        below = self.of_selection_set(field.selection_set, root=False)
        alias = 1 if field.alias else 0
        if name in INTROSPECTION_FIELDS:
            return Cost(
                aliases=below.aliases + alias,
                introspections=below.introspections + 1,
                introspection_fields=below.introspection_fields + below.fields + 1,
                introspection_depth=max(below.introspection_depth, below.depth) + 1,
            )
        return Cost(
            fields=below.fields + 1,
            aliases=below.aliases + alias,
            depth=below.depth + 1,
            sensitive=below.sensitive + (1 if root and name in SENSITIVE_FIELDS else 0),
            introspections=below.introspections,
            introspection_fields=below.introspection_fields,
            introspection_depth=below.introspection_depth,
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

    def spread(self) -> set[str]:
        return {name for name, _root in self.memo}


def cost_of(document: DocumentNode) -> Cost:
    """What `document` would execute, and walk, counted field by field."""
    fragments: dict[str, FragmentDefinitionNode] = {}
    for definition in document.definitions:
        if isinstance(definition, FragmentDefinitionNode):
            fragments.setdefault(definition.name.value, definition)
    measure = DocumentCost(fragments)
    cost = Cost()
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            cost += measure.of_selection_set(definition.selection_set, root=True)
    for name in fragments.keys() - measure.spread():
        cost += measure.of_fragment(name, root=False)
    return cost


def over_caps(document: DocumentNode) -> list[GraphQLError]:
    """QUERY_TOO_COMPLEX errors for each cap the document is over (none when within),
    or introspection's refusal when it is off."""
    cost = cost_of(document)
    if cost.introspections and not settings.GRAPHQL_INTROSPECTION:
        return [GraphQLError("GraphQL introspection is off.")]
    checks = (
        (cost.depth, settings.GRAPHQL_MAX_DEPTH, "levels deep"),
        (cost.fields, settings.GRAPHQL_MAX_FIELDS, "fields"),
        (cost.aliases, settings.GRAPHQL_MAX_ALIASES, "aliases"),
        (
            cost.sensitive,
            settings.GRAPHQL_MAX_SENSITIVE_FIELDS,
            "fields that send a code or check a secret",
        ),
        (cost.introspections, 1, "introspection fields (__schema, __type)"),
        (
            cost.introspection_fields,
            settings.GRAPHQL_MAX_INTROSPECTION_FIELDS,
            "fields of introspection",
        ),
        (
            cost.introspection_depth,
            settings.GRAPHQL_MAX_INTROSPECTION_DEPTH,
            "levels of introspection",
        ),
    )
    return [
        too_complex(f"The document is too complex: {value} {what}, at most {limit}.")
        for value, limit, what in checks
        if value > limit
    ]


def too_complex(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": TOO_COMPLEX})
