"""Coercing long lists of flat input objects without graphql-core's generic walk.

`usageRecord` takes up to a thousand `UsageEventInput` objects. graphql-core coerces each
field of each through a generic recursive walk, which cost about 6 µs an event, about a
tenth of the whole ingest on one process. Every field of such an input is a required
scalar, so a valid object needs only its exact keys and each scalar's own `parse_value`.

The fast path is taken only when every item of the list is valid that way. Otherwise the
variable goes through graphql-core unchanged, so errors (their messages, paths and
counts) are exactly graphql-core's. On valid input the result is what graphql-core builds:
the same `parse_value` calls and the same `out_type`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLInputObjectType,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLSchema,
    ListTypeNode,
    NamedTypeNode,
    NonNullTypeNode,
    TypeNode,
    get_operation_ast,
    is_required_input_field,
)

__all__ = ["FlatListVariables", "flat_list_variables"]

# Lists shorter than this are not worth a second code path.
MIN_ITEMS = 32


@dataclass(frozen=True, slots=True)
class _FlatInput:
    """An input object type whose fields are all required scalars without defaults."""

    keys: frozenset[str]
    fields: tuple[tuple[str, str, Callable[[Any], Any]], ...]  # name, out name, parse
    out_type: Callable[[dict[str, Any]], Any]

    def coerce(self, item: object) -> Any:
        """The coerced item; raises on anything the generic walk should judge."""
        if type(item) is not dict or item.keys() != self.keys or None in item.values():
            raise _NotFlat  # a null in a required field is graphql-core's to report
        return self.out_type({out: parse(item[name]) for name, out, parse in self.fields})


class _NotFlat(Exception):
    pass


@dataclass(frozen=True, slots=True)
class FlatListVariables:
    """Variables coerced on the fast path, and the raw values to coerce the rest from."""

    coerced: dict[str, list[Any]]
    remaining_raw: dict[str, Any]


def flat_list_variables(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    raw: Mapping[str, Any] | None,
) -> FlatListVariables | None:
    """Coerce the operation's variables that are long lists of a flat input type, when
    every item is valid. None when there is nothing to take the fast path, or no single
    operation to run (graphql-core reports that). A variable coerced here is kept out of
    `remaining_raw` as an empty list, which coerces to itself."""
    operation = get_operation_ast(document, operation_name) if raw else None
    if operation is None:
        return None
    assert raw is not None
    coerced: dict[str, list[Any]] = {}
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        value = raw.get(name)
        if type(value) is not list or len(value) < MIN_ITEMS:
            continue  # most requests: no schema lookup
        flat = _flat_list_item(schema, definition.type)
        if flat is None:
            continue
        items = _coerce_all(flat, value)
        if items is not None:
            coerced[name] = items
    if not coerced:
        return None
    return FlatListVariables(coerced, {**raw, **{name: [] for name in coerced}})


def _coerce_all(flat: _FlatInput, items: list[Any]) -> list[Any] | None:
    try:
        return [flat.coerce(item) for item in items]
    except Exception:  # whatever failed, graphql-core reports it properly
        return None


def _flat_list_item(schema: GraphQLSchema, node: TypeNode) -> _FlatInput | None:
    """The flat input type of `[T!]` or `[T!]!`, if T is one."""
    if isinstance(node, NonNullTypeNode):
        node = node.type
    if not isinstance(node, ListTypeNode) or not isinstance(node.type, NonNullTypeNode):
        return None
    named = node.type.type
    if not isinstance(named, NamedTypeNode):
        return None
    type_ = schema.get_type(named.name.value)
    return _flat_input(type_) if isinstance(type_, GraphQLInputObjectType) else None


@cache
def _flat_input(type_: GraphQLInputObjectType) -> _FlatInput | None:
    if type_.is_one_of:
        return None
    fields = []
    for name, field in type_.fields.items():
        inner = field.type.of_type if isinstance(field.type, GraphQLNonNull) else None
        if not isinstance(inner, GraphQLScalarType) or not is_required_input_field(field):
            return None
        fields.append((name, field.out_name or name, inner.parse_value))
    return _FlatInput(frozenset(type_.fields), tuple(fields), type_.out_type)
