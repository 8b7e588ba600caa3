"""Resolvers called without strawberry's wrapper get what the wrapper gives them.

The view documents' property test (`test_queries.py`) compares whole answers on the
gateway's schema. Here each way a resolver can ask for its source, its info and its
arguments is called both ways on a small schema, signatures the gateway does not use yet
included, and the fields whose wrapper does more than call them are left to it.
"""

from __future__ import annotations

import enum
from typing import Any

import pytest
import strawberry
from strawberry.extensions import FieldExtension, SchemaExtension
from strawberry.types import Info

from benefitgate.graphql.fast.direct import direct_resolver
from benefitgate.graphql.schema import build_schema
from graphql import GraphQLObjectType, GraphQLResolveInfo

Calls = list[tuple[str, Any]]  # what each resolver was given, in call order


@strawberry.enum
class Shade(enum.Enum):
    LIGHT = "light"
    DARK = "dark"


@strawberry.input
class Window:
    first_day: str
    shade: Shade = Shade.LIGHT


def _given(info: Info, **given: Any) -> str:
    calls: Calls = info.context["calls"]
    calls.append((str(info.path.key), given))
    return str(info.path.key)


KEY = strawberry.ID("k")


class Upper(FieldExtension):
    def resolve(self, next_: Any, source: Any, info: Info, **kwargs: Any) -> Any:
        return str(next_(source, info, **kwargs)).upper()


@strawberry.type
class Query:
    @strawberry.field
    def scalars(
        self, info: Info, n: int, label: str | None = None, key: strawberry.ID = KEY
    ) -> str:
        return _given(info, self=self, n=n, label=label, key=key)

    @strawberry.field
    def rooted(self, root: Any, info: Info) -> str:
        return _given(info, root=root)

    @strawberry.field
    def parented(self, parent: strawberry.Parent[Any], info: Info) -> str:
        return _given(info, parent=parent)

    @strawberry.field
    def window(self, info: Info, window: Window | None = None) -> str:
        return _given(info, window=window)

    @strawberry.field
    def shades(self, info: Info, shades: list[Shade], named: list[str] | None = None) -> str:
        return _given(info, shades=shades, named=named)

    @strawberry.field
    def maybe(self, info: Info, note: strawberry.Maybe[str | None] = None) -> str:
        return _given(info, note=note)

    @strawberry.field
    async def later(self, info: Info, n: int = 3) -> str:
        return _given(info, n=n)

    @strawberry.field
    @staticmethod
    def unbound(info: Info) -> str:
        return _given(info)

    @strawberry.field(extensions=[Upper()])  # type: ignore[untyped-decorator]
    def extended(self, info: Info) -> str:
        return _given(info)


DOCUMENT = """query($n: Int!, $w: Window) {
  scalars(n: $n, label: "x") defaults: scalars(n: 1) rooted parented
  window(window: $w) noWindow: window nullWindow: window(window: null)
  shades(shades: [DARK, LIGHT], named: ["a"]) unnamed: shades(shades: [], named: null)
  maybe noMaybe: maybe(note: null) someMaybe: maybe(note: "x") later unbound extended
}"""
VARIABLES = {"n": 7, "w": {"firstDay": "2026-12-31", "shade": "DARK"}}


async def test_a_resolver_called_directly_gets_what_strawberrys_wrapper_gives_it() -> None:
    source = Query()
    calls: Calls = []
    seen: dict[str, tuple[GraphQLResolveInfo[Any], dict[str, Any]]] = {}

    class Recorded(SchemaExtension):
        """graphql-core's own info and argument values of each field, for the direct call."""

        def resolve(
            self, _next: Any, root: Any, info: GraphQLResolveInfo[Any], *args: str, **kwargs: Any
        ) -> Any:
            seen[str(info.path.key)] = info, kwargs
            return _next(root, info, *args, **kwargs)

    schema = strawberry.Schema(query=Query, extensions=[Recorded])
    result = await schema.execute(
        DOCUMENT, VARIABLES, context_value={"calls": calls}, root_value=source
    )
    assert result.errors is None
    assert result.data is not None and result.data["extended"] == "EXTENDED"

    query_type = schema._schema.query_type
    assert isinstance(query_type, GraphQLObjectType)
    wrapped = dict(calls)
    calls.clear()
    for name, (info, arguments) in seen.items():
        definition = query_type.fields[info.field_name]
        direct = direct_resolver(definition, schema._schema)
        if name == "extended":
            assert direct is None  # its extension runs in the wrapper
            continue
        assert direct is not None, name
        value = direct(source, info, arguments)
        if name == "later":
            value = await value
        assert value == name
    assert dict(calls) == {name: given for name, given in wrapped.items() if name != "extended"}
    assert isinstance(wrapped["window"]["window"], Window)  # converted, not a dict
    assert wrapped["shades"]["shades"] == [Shade.DARK, Shade.LIGHT]


@pytest.mark.parametrize("root", ["account", "accounts", "tier", "tiers", "benefits"])
def test_the_gateways_view_resolvers_are_called_directly(root: str) -> None:
    schema = build_schema(max_depth=10, max_tokens=1_000, max_aliases=10, suggestions=False)
    query_type = schema._schema.query_type
    assert query_type is not None
    assert direct_resolver(query_type.fields[root], schema._schema) is not None
