"""The plain-field executor must answer exactly as graphql-core's own executor does."""

from __future__ import annotations

import enum
from typing import Annotated, Any

import pytest
import strawberry
from strawberry.extensions import ParserCache, SchemaExtension

from benefitgate.graphql.fast import executor
from benefitgate.graphql.fast.executor import PlainFieldExecutor


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Leaf:
    name: str
    colour: Colour
    weight: float | None


@strawberry.type
class Other:
    code: int


@strawberry.type
class Node:
    id: strawberry.ID
    leaves: list[Leaf]
    maybe: Leaf | None
    tags: list[str | None]
    either: Annotated[Leaf | Other, strawberry.union("Either")]

    @strawberry.field
    def shout(self, suffix: str = "!") -> str:
        return self.id.upper() + suffix


def _node(node_id: str, *, colour: Any = Colour.RED, name: Any = "a") -> Node:
    return Node(
        id=strawberry.ID(node_id),
        leaves=[
            Leaf(name=name, colour=colour, weight=1.5),
            Leaf(name="b", colour=Colour.BLUE, weight=None),
        ],
        maybe=None,
        tags=["x", None],
        either=Other(code=7),
    )


@strawberry.type
class Query:
    @strawberry.field
    async def nodes(self) -> list[Node]:
        return [_node("n1"), _node("n2")]

    @strawberry.field
    async def broken(self) -> list[Node]:
        # A null in a non-null leaf, and a value that is not a member of the enum.
        return [_node("n3", name=None), _node("n4", colour="purple")]

    @strawberry.field
    def once(self) -> list[Node]:
        # An iterator, readable once, with a null in a non-null leaf in its last node.
        return iter([_node("n5"), _node("n6", name=None)])  # type: ignore[return-value]


def _schemas(*extensions: type[SchemaExtension]) -> tuple[strawberry.Schema, strawberry.Schema]:
    stock = strawberry.Schema(query=Query, extensions=list(extensions))
    fast = strawberry.Schema(
        query=Query, extensions=list(extensions), execution_context_class=PlainFieldExecutor
    )
    return stock, fast


DOCUMENTS = [
    "{ nodes { id leaves { name colour weight } maybe { name } tags } }",
    "{ nodes { __typename id renamed: id leaves { __typename n: name } } }",
    '{ nodes { id shout loud: shout(suffix: "?") leaves { name } } }',
    "{ nodes { either { __typename ... on Other { code } ... on Leaf { name } } } }",
    "query($on: Boolean!) { nodes { id leaves @include(if: $on) { name } tags @skip(if: $on) } }",
    "fragment L on Leaf { name colour } { nodes { leaves { ...L weight } } }",
    "{ broken { id leaves { name colour } } }",
    "{ broken { id leaves { weight } } }",
    "{ once { id leaves { name } } }",
    "{ nodes { id leaves { name } } once { id } }",
]


@pytest.mark.parametrize("document", DOCUMENTS)
async def test_answers_match_the_stock_executor(document: str) -> None:
    stock, fast = _schemas()
    expected = await stock.execute(document, variable_values={"on": True})
    answer = await fast.execute(document, variable_values={"on": True})
    assert answer.data == expected.data
    assert [(e.message, e.path) for e in answer.errors or []] == [
        (e.message, e.path) for e in expected.errors or []
    ]


class _CountingExecutor(PlainFieldExecutor):
    resolved_by_graphql_core = 0

    def build_resolve_info(self, *args: Any, **kwargs: Any) -> Any:
        type(self).resolved_by_graphql_core += 1
        return super().build_resolve_info(*args, **kwargs)


async def test_plain_subtrees_skip_graphql_cores_field_machinery() -> None:
    schema = strawberry.Schema(query=Query, execution_context_class=_CountingExecutor)
    result = await schema.execute("{ nodes { id shout leaves { name colour weight } } }")
    assert result.errors is None
    # Only the two resolvers run through graphql-core: `nodes` once and `shout` per node.
    assert _CountingExecutor.resolved_by_graphql_core == 3


class _CountingObjects(PlainFieldExecutor):
    objects_by_graphql_core = 0

    def execute_fields(self, *args: Any, **kwargs: Any) -> Any:
        type(self).objects_by_graphql_core += 1
        return super().execute_fields(*args, **kwargs)


async def test_a_resolvers_plain_objects_skip_graphql_cores_field_machinery() -> None:
    schema = strawberry.Schema(query=Query, execution_context_class=_CountingObjects)
    result = await schema.execute("{ nodes { id leaves { name colour weight } maybe { name } } }")
    assert result.errors is None and result.data is not None and len(result.data["nodes"]) == 2
    # The root only: the nodes `nodes` returned are completed on the fast path.
    assert _CountingObjects.objects_by_graphql_core == 1


async def test_a_null_in_a_non_null_leaf_is_reported_with_its_path() -> None:
    _, fast = _schemas()
    result = await fast.execute("{ broken { leaves { name } } }")
    assert result.errors is not None
    assert [e.path for e in result.errors] == [["broken", 0, "leaves", 0, "name"]]
    assert result.data is None


class _CountResolves(SchemaExtension):
    calls = 0

    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        type(self).calls += 1
        return _next(root, info, *args, **kwargs)


async def test_extensions_with_a_resolve_hook_still_see_every_field() -> None:
    stock, fast = _schemas(_CountResolves)
    await stock.execute("{ nodes { id leaves { name } } }")
    stock_calls, _CountResolves.calls = _CountResolves.calls, 0
    await fast.execute("{ nodes { id leaves { name } } }")
    assert _CountResolves.calls == stock_calls > 2


async def test_a_documents_plans_are_worked_out_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # The parser cache hands out one document per text, as the service's schema does.
    schema = strawberry.Schema(
        query=Query, extensions=[ParserCache], execution_context_class=PlainFieldExecutor
    )
    planned: list[str] = []
    plan_field = executor._plan_field

    def counted(*args: Any) -> Any:
        planned.append(args[2])
        return plan_field(*args)

    monkeypatch.setattr(executor, "_plan_field", counted)
    document = "{ nodes { id leaves { name colour } maybe { weight } } } # planned once"
    first = await schema.execute(document)
    worked_out = len(planned)
    again = await schema.execute(document)
    assert first.errors is None and again.data == first.data
    assert worked_out > 0 and len(planned) == worked_out


@pytest.mark.parametrize("on", [True, False])
async def test_selections_that_vary_with_the_variables_are_planned_for_each_request(
    on: bool,
) -> None:
    stock = strawberry.Schema(query=Query)
    fast = strawberry.Schema(
        query=Query, extensions=[ParserCache], execution_context_class=PlainFieldExecutor
    )
    document = (
        "query($on: Boolean!) { nodes { leaves { name @include(if: $on) colour } "
        "maybe @skip(if: $on) { name } either { ... on Other @include(if: $on) { code } } } }"
    )
    for value in (on, not on):
        expected = await stock.execute(document, variable_values={"on": value})
        answer = await fast.execute(document, variable_values={"on": value})
        assert answer.errors is None and answer.data == expected.data
