"""Apollo Client's `possibleTypes`, generated from the schema.

Apollo Client's cache cannot tell which concrete types a fragment on a union or an
interface matches unless it is told: without `possibleTypes`, `... on Error { code }`
inside a result union is silently dropped. The map names, for every union and interface,
the object types that belong to it; `benefitgate export-possible-types` writes it and a
test keeps the committed `possible-types.json` in step with the schema.
"""

from __future__ import annotations

import json

from graphql import GraphQLInterfaceType, GraphQLSchema, GraphQLUnionType

__all__ = ["possible_types", "possible_types_json"]


def possible_types(schema: GraphQLSchema) -> dict[str, list[str]]:
    """Every union and interface (introspection types aside) with its object types,
    sorted by name."""
    return {
        name: sorted(t.name for t in schema.get_possible_types(abstract))
        for name, abstract in sorted(schema.type_map.items())
        if isinstance(abstract, GraphQLUnionType | GraphQLInterfaceType)
        and not name.startswith("__")
    }


def possible_types_json(schema: GraphQLSchema) -> str:
    return json.dumps(possible_types(schema), indent=2) + "\n"
