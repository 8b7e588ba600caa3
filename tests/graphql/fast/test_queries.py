"""The view documents' path in front of strawberry answers exactly as strawberry does.

Two replicas on one database, one with the path and one without, get the same requests:
documents generated from the schema (any selection of the read-only roots' types, unions
through inline fragments, aliases, lists, nested resolvers, arguments of every input type
the views take, valid or not for their resolvers), from callers of every role,
for accounts of every standing and for ids unknown or malformed. The fast replica sees
each request twice: strawberry runs the first (the document is new), the path the second
when the first ran cleanly. Every answer is the same status, headers and bytes as the
replica without the path, and the same metrics.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeAlias

import asyncpg
import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from benefitgate.auth.principals import Role
from benefitgate.graphql.fast.queries import READ_ONLY_ROOTS
from benefitgate.graphql.schema import build_schema
from benefitgate.graphql.view import GraphQLView
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    get_named_type,
    is_leaf_type,
    is_required_argument,
    is_required_input_field,
)
from tests.conftest import Api, MakeApi, api_key, frontend_token
from tests.fixtures import factories
from tests.fixtures.factories import NOW
from tests.fixtures.terminate import locked, terminate_waiting
from tests.graphql.fast.test_checks import _count_runs, _recorded, _seen, _view

EXAMPLES = int(os.environ.get("FUZZ_QUERIES", "150"))
SCHEMA: GraphQLSchema = build_schema(
    max_depth=10, max_tokens=1_000, max_aliases=10, suggestions=False
)._schema
# The roots and the variables they take in the generated documents (a root with none takes
# literals, as any field does).
ROOTS = {
    "account": ("($id: ID!)", "account(id: $id)"),
    "accounts": ("($n: Int)", "accounts(first: $n)"),
    "tiers": ("", "tiers"),
    "tier": ("($key: String!)", "tier(key: $key)"),
    "benefits": ("", "benefits"),
    "milestones": ("", "milestones"),
}
VIEW = """query View($id: ID!) { account(id: $id) { ... on Account { id name
  subscription { status } tier { key benefits { benefit { key } } }
  usage { metric { key } used limit } } } }"""


@dataclass
class World:
    fast: Api
    full: Api
    accounts: list[str]
    callers: list[str]
    strawberry_runs: list[int]  # requests the fast replica handed to strawberry


async def _accounts(conn: asyncpg.Connection) -> list[uuid.UUID]:
    """Accounts of the standings a view tells apart: grants expired and active, usage near
    and past its limits, a partner's, one past due and one canceled."""
    cat = await factories.catalog(conn, benefits=4)
    basic, pro = cat["versions"]["basic"], cat["versions"]["pro"]
    partner = await factories.partner(conn)
    worn = await factories.account(conn, basic)
    await factories.grant(conn, worn, "b1", valid_until=NOW - timedelta(minutes=1))
    await factories.grant(conn, worn, "b2", amount=5)
    await factories.usage(conn, worn, "m0", 95)
    managed = await factories.account(conn, pro, partner_id=partner)
    await factories.usage(conn, managed, "m1", 1200)
    late, gone = await factories.account(conn, basic), await factories.account(conn, pro)
    await conn.execute("update subscriptions set status = 'past_due' where account_id = $1", late)
    await conn.execute("update subscriptions set status = 'canceled' where account_id = $1", gone)
    return [worn, managed, late, gone, partner]


@pytest.fixture
async def world(conn: asyncpg.Connection, make_api: MakeApi) -> AsyncIterator[World]:
    worn, managed, late, gone, partner = await _accounts(conn)
    callers = [
        await api_key(conn, Role.ADMIN),
        await api_key(conn, Role.PARTNER, partner_id=partner),
        frontend_token(worn),
        frontend_token(managed),
    ]
    async with make_api() as fast, make_api(fast_queries=False) as full:
        ids = [str(a) for a in (worn, managed, late, gone)]
        yield World(fast, full, ids, callers, _count_runs(_view(fast)))


Draw = Callable[[st.SearchStrategy[Any]], Any]


def _selection(draw: Draw, type_: GraphQLOutputType, depth: int, aliases: list[int]) -> str:
    """A selection set on `type_` (empty for a leaf), `depth` levels deep at most."""
    named = get_named_type(type_)
    if is_leaf_type(named):
        return ""
    if isinstance(named, GraphQLUnionType | GraphQLInterfaceType):
        members = list(SCHEMA.get_possible_types(named))
        chosen = draw(st.lists(st.sampled_from(members), min_size=1, max_size=3, unique=True))
        parts = [f"... on {m.name} {_selection(draw, m, depth, aliases)}" for m in chosen]
        return "{ __typename " + " ".join(parts) + " }"
    assert isinstance(named, GraphQLObjectType)
    fields = [(name, f) for name, f in named.fields.items() if _selectable(f, depth)]
    if not fields:
        return "{ __typename }"
    chosen = draw(st.lists(st.sampled_from(fields), min_size=1, max_size=5, unique_by=_name))
    parts = []
    for name, field in chosen:
        if aliases[0] < 3 and draw(st.integers(0, 5)) == 0:
            aliases[0] += 1
            call = f"a{aliases[0]}: {name}{_arguments(draw, field)}"
            parts.append(f"{call} {_selection(draw, field.type, depth - 1, aliases)}")
        call = f"{name}{_arguments(draw, field)}"
        parts.append(f"{call} {_selection(draw, field.type, depth - 1, aliases)}")
    return "{ " + " ".join(parts) + " }"


def _arguments(draw: Draw, field: GraphQLField) -> str:
    """The field's arguments as literals: every required one, and some of the others."""
    given = [
        f"{name}: {_literal(draw, argument.type)}"
        for name, argument in field.args.items()
        if is_required_argument(argument) or draw(st.booleans())
    ]
    return f"({', '.join(given)})" if given else ""


# Values of the scalars the views' arguments take, ordinary and at their edges: an empty
# string, a key that exists and one that does not, month and year ends, a negative count.
_SCALARS: dict[str, st.SearchStrategy[str]] = {
    "Int": st.sampled_from(["0", "1", "2", "20", "-1"]),
    "Float": st.sampled_from(["0", "1.5", "-2"]),
    "Boolean": st.sampled_from(["true", "false"]),
    "String": st.sampled_from(['""', '"pro"', '"api_calls"', '"region"', '"no such"']),
    "ID": st.sampled_from(['"1"', '"nope"']),
    "Date": st.sampled_from(['"2026-01-31"', '"2026-02-28"', '"2026-12-31"', '"2027-01-01"']),
}


def _literal(draw: Draw, type_: GraphQLInputType) -> str:
    """A literal of the input type; some of them invalid for the resolver, none for the
    schema (a document that does not validate never reaches the path)."""
    if isinstance(type_, GraphQLNonNull):
        return _literal(draw, type_.of_type)
    if isinstance(type_, GraphQLList):
        items = draw(st.lists(st.just(type_.of_type), max_size=2))
        return "[" + ", ".join(_literal(draw, item) for item in items) + "]"
    if isinstance(type_, GraphQLEnumType):
        return str(draw(st.sampled_from(sorted(type_.values))))
    if isinstance(type_, GraphQLInputObjectType):
        fields = [
            f"{name}: {_literal(draw, field.type)}"
            for name, field in type_.fields.items()
            if is_required_input_field(field) or draw(st.booleans())
        ]
        return "{" + ", ".join(fields) + "}"
    assert isinstance(type_, GraphQLScalarType), type_
    return str(draw(_SCALARS[type_.name]))


def _name(pair: tuple[str, GraphQLField]) -> str:
    return pair[0]


def _selectable(field: GraphQLField, depth: int) -> bool:
    """A field the generated document may select: past the depth allowed, a leaf."""
    return depth > 0 or is_leaf_type(get_named_type(field.type))


def _document(draw: Draw) -> tuple[str, str]:
    root = draw(st.sampled_from(sorted(ROOTS)))
    variables, call = ROOTS[root]
    query_type = SCHEMA.query_type
    assert query_type is not None
    if not variables:
        call += _arguments(draw, query_type.fields[root])
    selection = _selection(draw, query_type.fields[root].type, draw(st.integers(1, 3)), [0])
    return root, f"query Q{variables} {{ {call} {selection} }}"


def _variables(draw: Draw, world: World) -> dict[str, Any]:
    ids = st.sampled_from(world.accounts) | st.just(str(uuid.uuid4())) | st.just("nope")
    return {
        "id": draw(ids),
        "n": draw(st.sampled_from([1, 2, 20, 0, -1, None])),
        "key": draw(st.sampled_from(["basic", "pro", "gold"])),
    }


async def _post(
    api: Api, query: str, variables: dict[str, Any], auth: str, spaced: bool = False
) -> httpx.Response:
    """The request; `spaced` writes its JSON with other bytes, so that it is not one the
    fast replica read before (which `graphql.quick` answers) but one its view reads."""
    headers = {"authorization": f"Bearer {auth}", "content-type": "application/json"}
    body = {"query": query, "variables": variables}
    encoded = json.dumps(body, separators=(", ", ": ") if spaced else (",", ":"))
    return await api.client.post("/graphql", content=encoded.encode(), headers=headers)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_the_path_answers_every_view_document_as_strawberry_does(
    world: World, data: st.DataObject
) -> None:
    root, query = _document(data.draw)
    variables = _variables(data.draw, world)
    caller = data.draw(st.sampled_from(world.callers))
    spaced = data.draw(st.booleans())

    first = await _post(world.fast, query, variables, caller)  # strawberry: a new document
    runs = world.strawberry_runs[0]
    again = _post(world.fast, query, variables, caller, spaced)
    fast, fast_metrics = await _recorded(again)
    answered_fast = world.strawberry_runs[0] == runs
    full, full_metrics = await _recorded(_post(world.full, query, variables, caller))

    assert _seen(fast) == _seen(full), query
    assert _seen(first) == _seen(full), query
    assert fast_metrics == full_metrics
    clean = full.status_code == 200 and "errors" not in full.json()
    # A resolver's error that nulls the whole result is answered in front too.
    nulled = full.status_code == 200 and full.json().get("data", {}) is None
    assert root in READ_ONLY_ROOTS
    assert answered_fast == clean or (answered_fast and nulled), (query, full.content)
    event("answered in front" if answered_fast else "answered by strawberry")


async def test_a_view_document_runs_through_strawberry_until_it_ran_cleanly_for_the_role(
    conn: asyncpg.Connection, make_api: MakeApi
) -> None:
    worn, *_ = await _accounts(conn)
    admin, frontend = await api_key(conn, Role.ADMIN), frontend_token(worn)
    variables = {"id": str(worn)}
    async with make_api() as api:
        runs = _count_runs(_view(api))
        for auth, expected_runs in [(admin, 1), (admin, 1), (frontend, 2), (frontend, 2)]:
            data = await api.data(VIEW, variables, auth=auth)
            assert data["account"]["id"] == str(worn)
            assert runs[0] == expected_runs
        # A request whose variables do not coerce goes to strawberry, which refuses it.
        refused = await api.post(VIEW, {"id": True}, auth=admin)
        assert refused.json()["errors"][0]["message"].startswith("Variable '$id'")
        assert runs[0] == 3


@pytest.mark.parametrize(
    "query",
    [
        'query($id: ID!) { entitlementCheck(accountId: $id, feature: "b0") { __typename } }',
        "query($id: ID!, $y: Boolean = true) { account(id: $id) { __typename @include(if: $y) } }",
        "query($id: ID!) { account(id: $id) { __typename } events(first: 1) { __typename } }",
        "query { __schema { queryType { name } } }",
        'mutation($id: ID!) { outcomeTargetRemove(accountId: $id, outcome: "x") { __typename } }',
    ],
    ids=["a check", "a directive", "another root", "introspection", "a mutation"],
)
async def test_documents_beyond_the_read_only_roots_stay_with_strawberry(
    conn: asyncpg.Connection, make_api: MakeApi, query: str
) -> None:
    worn, *_ = await _accounts(conn)
    admin = await api_key(conn, Role.ADMIN)
    async with make_api(fast_checks=False) as api:
        runs = _count_runs(_view(api))
        for expected_runs in (1, 2, 3):
            await api.post(query, {"id": str(worn)}, auth=admin)
            assert runs[0] == expected_runs


async def test_a_first_beyond_the_cost_ceiling_is_refused_on_the_path_too(
    conn: asyncpg.Connection, make_api: MakeApi
) -> None:
    """An operation's cost depends on the `first` its variables give; a document that ran
    cleanly with a small page is costed again for a large one."""
    await _accounts(conn)
    admin = await api_key(conn, Role.ADMIN)
    query = """query($n: Int) { accounts(first: $n) {
      ... on AccountConnection { edges { node { id grants { __typename } } } } } }"""
    async with make_api(cost_ceilings={"admin": 200}) as api:
        runs = _count_runs(_view(api))
        for _ in range(2):
            assert (await api.data(query, {"n": 2}, auth=admin))["accounts"]["edges"]
        assert runs[0] == 1
        refused = (await api.post(query, {"n": 100}, auth=admin)).json()
        assert "data" not in refused
        assert refused["errors"][0]["extensions"]["code"] == "COST_LIMIT_EXCEEDED"
        assert runs[0] == 2


async def test_an_argument_that_does_not_coerce_is_answered_as_strawberry_answers_it(
    world: World,
) -> None:
    """A null variable for a non-null argument (`first: Int!` from `$n: Int`) fails its
    field, and the null reaches the root: the path answers the error where strawberry
    locates it (the variable in the argument, from a parse with locations) and records it
    as strawberry does, without running the request again."""
    query = "query Q($n: Int) { accounts(first: $n) { __typename } }"
    admin = world.callers[0]
    await _post(world.fast, query, {"n": 1}, admin)  # learnt
    runs = world.strawberry_runs[0]
    for spaced in (False, True):  # in front of the view (`graphql.quick`) and by the view
        await _post(world.fast, query, {"n": None}, admin)
        fast, fast_metrics = await _recorded(_post(world.fast, query, {"n": None}, admin, spaced))
        full, full_metrics = await _recorded(_post(world.full, query, {"n": None}, admin))
        assert _seen(fast) == _seen(full)
        assert fast_metrics == full_metrics
        assert full.json()["errors"][0]["locations"] == [{"line": 1, "column": 36}]
    assert world.strawberry_runs[0] == runs


Seen: TypeAlias = tuple[tuple[int, list[tuple[str, str]], bytes], dict[Any, float], list[str]]


async def _failing_view(
    make_api: MakeApi, dsn: str, ids: list[str], admin: str, fast: bool, **overrides: Any
) -> tuple[Seen, int]:
    """The answer (status, headers, bytes), the metrics and the logs of a learnt view whose
    read waits on a locked table and fails there: ended with the first waiting backend
    terminated, or (with `statement_seconds` among `overrides`) cancelled past its time;
    with how many requests strawberry ran. `ids` has the account the view is learnt with,
    and for the path in front of the view (`graphql.quick`) one it reads again."""
    learnt, *read_before = ids
    async with make_api(fast_queries=fast, **overrides) as api:
        await api.data(VIEW, {"id": learnt}, auth=admin)
        for account in read_before:
            await api.data(VIEW, {"id": account}, auth=admin)
        runs = _count_runs(_view(api))
        failing = read_before[0] if read_before else str(uuid.uuid4())
        handler = _Logged()
        logging.getLogger("benefitgate.graphql").addHandler(handler)
        try:
            async with locked(dsn, "accounts") as holder:
                pending = asyncio.create_task(
                    _recorded(api.post(VIEW, {"id": failing}, auth=admin))
                )
                if "statement_seconds" not in overrides:
                    assert await terminate_waiting(holder) == 1
                # Read once: a read again would wait on the lock until it is let go.
                response, recorded = await asyncio.wait_for(pending, 10)
        finally:
            logging.getLogger("benefitgate.graphql").removeHandler(handler)
        # The database back, the view answers (from the path once it ran cleanly).
        assert (await api.data(VIEW, {"id": learnt}, auth=admin))["account"]["id"] == learnt
        return (_seen(response), recorded, handler.lines), runs[0]


class _Logged(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname} {record.getMessage().split(':')[0]}")


@pytest.mark.parametrize("bytes_read_before", [False, True], ids=["view", "quick"])
@pytest.mark.parametrize("failure", ["terminated", "timed out"])
async def test_a_view_whose_read_fails_is_answered_as_strawberry_answers_it_without_a_rerun(
    conn: asyncpg.Connection, make_api: MakeApi, dsn: str, bytes_read_before: bool, failure: str
) -> None:
    """A read that fails on the database (a lost connection, a statement past its time, no
    connection free) fails the view as strawberry's execution fails it: the root's null, the
    error masked (UNAVAILABLE, or "Unexpected error.") and logged, the operation recorded.
    The path answers it itself: strawberry running the request again waited again on what
    made it fail (the lock, the statement's time, the pool), so every failing request held
    its connection and its caller twice as long, as the database was in trouble. Whether the
    path was tried by the view or, for bytes read before, in front of it (`graphql.quick`)."""
    worn, managed, *_ = await _accounts(conn)
    admin = await api_key(conn, Role.ADMIN)
    ids = [str(worn), str(managed)] if bytes_read_before else [str(worn)]
    overrides = {"statement_seconds": 0.5} if failure == "timed out" else {}
    fast, strawberry_runs = await _failing_view(make_api, dsn, ids, admin, True, **overrides)
    full, _ = await _failing_view(make_api, dsn, ids, admin, False, **overrides)
    assert fast == full
    assert strawberry_runs == 0
    (status, _, body), _, logged = fast
    assert status == 200
    error = json.loads(body)["errors"][0]
    assert json.loads(body)["data"] is None and error["path"] == ["account"]
    if failure == "terminated":
        assert error["extensions"] == {"code": "UNAVAILABLE", "retryable": True}
        assert logged == ["WARNING database unavailable in account"]
    else:
        assert error["message"] == "Unexpected error." and "extensions" not in error
        assert logged == ["ERROR unexpected error in account"]


async def test_with_the_response_cache_a_miss_and_an_uncacheable_view_are_answered_in_front(
    conn: asyncpg.Connection, make_api: MakeApi
) -> None:
    """The cache keeps what the path answered (a miss), and a view the cache does not keep
    (`accounts`) is answered by the path all the same."""
    worn, managed, *_ = await _accounts(conn)
    admin = await api_key(conn, Role.ADMIN)
    pages = "query { accounts(first: 2) { ... on AccountConnection { edges { node { id } } } } }"
    async with make_api(response_cache=True) as api:
        runs = _count_runs(_view(api))
        for _ in range(3):
            assert len((await api.data(pages, auth=admin))["accounts"]["edges"]) == 2
        assert runs[0] == 1
        await api.data(VIEW, {"id": str(worn)}, auth=admin)  # learnt
        assert runs[0] == 2
        answered = _count_answers(_view(api))
        missed = await api.data(VIEW, {"id": str(managed)}, auth=admin)  # a miss, in front
        assert answered == [1]
        again = await api.data(VIEW, {"id": str(managed)}, auth=admin)  # a hit: no execution
        assert answered == [1]
        assert again == missed and missed["account"]["id"] == str(managed)
        assert runs[0] == 2


def _count_answers(view: GraphQLView) -> list[int]:
    """A tally of the view documents the path in front of strawberry executes."""
    assert view.queries is not None
    answered, answer = [0], view.queries.answer

    async def counted(*args: Any, **kwargs: Any) -> Any:
        answered[0] += 1
        return await answer(*args, **kwargs)

    view.queries.answer = counted  # type: ignore[method-assign]
    return answered
