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
    OperationDefinitionNode,
    TypeNode,
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
        if type(item) is not dict or item.keys() != self.keys:
            raise _NotFlat
        return self.out_type({out: parse(item[name]) for name, out, parse in self.fields})


class _NotFlat(Exception):
    pass


@dataclass(frozen=True, slots=True)
class FlatListVariables:
    """Variables coerced on the fast path, and the raw values to coerce the rest from."""

    coerced: dict[str, list[Any]]
    remaining_raw: dict[str, Any]


def flat_list_variables(
    schema: GraphQLSchema, document: DocumentNode, raw: Mapping[str, Any] | None
) -> FlatListVariables | None:
    """Coerce the variables that are long lists of a flat input type, when every item is
    valid. None when there is nothing to take the fast path. A variable that names such
    a list is kept out of `remaining_raw` as an empty list, which coerces to itself."""
    if not raw:
        return None
    coerced: dict[str, list[Any]] = {}
    for name, type_node in _variable_types(document).items():
        value = raw.get(name)
        flat = _flat_list_item(schema, type_node)
        if flat is None or type(value) is not list or len(value) < MIN_ITEMS:
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


def _variable_types(document: DocumentNode) -> dict[str, TypeNode]:
    """Each variable's declared type; a name declared with two types (in two operations)
    is left out, since which one applies depends on the operation chosen."""
    types: dict[str, TypeNode] = {}
    ambiguous: set[str] = set()
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        for variable in definition.variable_definitions or ():
            name = variable.variable.name.value
            if name in types and _spelled(types[name]) != _spelled(variable.type):
                ambiguous.add(name)
            types[name] = variable.type
    return {name: t for name, t in types.items() if name not in ambiguous}


def _spelled(node: TypeNode) -> str:
    if isinstance(node, NonNullTypeNode):
        return _spelled(node.type) + "!"
    if isinstance(node, ListTypeNode):
        return f"[{_spelled(node.type)}]"
    assert isinstance(node, NamedTypeNode)
    return node.name.value


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
