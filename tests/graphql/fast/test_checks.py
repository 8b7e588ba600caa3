"""The check's fast path answers exactly as strawberry does.

Two replicas on one database, one with the fast path and one without, get the same
generated requests (callers of every role, accounts of every standing, unknown and
malformed ids, every kind of variable, documents the path answers and documents it must
leave to strawberry): the same status, headers and bytes, the same denials counted and
the same metrics recorded. The fast replica answers every clean check itself, and leaves
everything else to strawberry.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.routing import Route

from benefitgate.auth.principals import Role
from benefitgate.graphql.documents import FORMAT, document_id
from benefitgate.graphql.view import GraphQLView
from benefitgate.metering.denials import Denials
from benefitgate.telemetry import metrics
from tests.conftest import Api, MakeApi, api_key, frontend_token
from tests.fixtures import factories
from tests.fixtures.factories import NOW
from tests.fixtures.metering_api import CHECK
from tests.fixtures.terminate import locked, terminate_waiting

EXAMPLES = int(os.environ.get("FUZZ_CHECKS", "300"))

# Documents the fast path answers once they have run cleanly for the caller's role.
FAST = {
    "variables": CHECK.replace("query Check(", "query A("),
    "alias and literal": """query A($id: ID!) {
      check: entitlementCheck(accountId: $id, feature: "b2") {
        ... on EntitlementCheck { allowed tier } ... on NotFoundError { code } __typename } }""",
    "named fragments": """query A($id: ID!, $m: String) {
      entitlementCheck(accountId: $id, metric: $m, requested: 150) { ...Answer ...Failure } }
      fragment Answer on EntitlementCheck { remaining allowed a: allowed reason }
      fragment Failure on Error { message code ... on InvalidInputError { field } }""",
    "one of two operations": """query A($id: ID!, $feature: String) {
      entitlementCheck(accountId: $id, feature: $feature) { __typename } }
      query B { tiers { key } }""",
}
# Documents it leaves to strawberry whatever their variables.
SLOW = {
    "directive": """query($id: ID!, $feature: String, $yes: Boolean = true) {
      entitlementCheck(accountId: $id, feature: $feature) {
        ... on EntitlementCheck { allowed @include(if: $yes) } } }""",
    "two root fields": """query($id: ID!, $feature: String) { __typename
      entitlementCheck(accountId: $id, feature: $feature) { __typename } }""",
    "syntax error": "query($id: ID!) { entitlementCheck(accountId: $id { allowed } }",
    "invalid field": """query($id: ID!) {
      entitlementCheck(accountId: $id, feature: "b0") { ... on EntitlementCheck { nope } } }""",
}
KEYS = ["b0", "b1", "b2", "b3", "m0", "m1", "extra", "nope", ""]


@dataclass
class World:
    fast: Api
    full: Api
    accounts: list[str]
    callers: list[str]
    strawberry_runs: list[int]  # requests the fast replica handed to strawberry
    denials: tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]  # counted, fast and full


def _view(api: Api) -> GraphQLView:
    assert api.app is not None
    route = next(r for r in api.app.routes if isinstance(r, Route) and r.path == "/graphql")
    assert isinstance(route.app, GraphQLView)
    return route.app


def _count_runs(view: GraphQLView) -> list[int]:
    """A tally of the requests `view` hands to strawberry."""
    runs = [0]
    run = view.run

    async def counted(*args: Any, **kwargs: Any) -> Any:
        runs[0] += 1
        return await run(*args, **kwargs)

    view.run = counted  # type: ignore[method-assign]
    return runs


async def _accounts(conn: asyncpg.Connection) -> list[uuid.UUID]:
    """Accounts of every standing a check tells apart."""
    cat = await factories.catalog(conn, benefits=4)
    basic, pro = cat["versions"]["basic"], cat["versions"]["pro"]
    partner = await factories.partner(conn)
    worn = await factories.account(conn, basic)  # an expired grant, a metric nearly used
    await factories.grant(conn, worn, "b1", valid_until=NOW - timedelta(minutes=1))
    await factories.usage(conn, worn, "m0", 95)
    managed = await factories.account(conn, pro, partner_id=partner)  # past its soft limit
    await factories.usage(conn, managed, "m1", 1200)
    late, gone = await factories.account(conn, basic), await factories.account(conn, pro)
    await conn.execute("update subscriptions set status = 'past_due' where account_id = $1", late)
    await conn.execute("update subscriptions set status = 'canceled' where account_id = $1", gone)
    await conn.execute("insert into metrics values ('extra', 'x', 'x', 'sum', 'never')")
    await conn.execute("insert into partners (id, name) values ($1, 'P')", uuid.uuid4())
    return [worn, managed, late, gone, partner]


@pytest.fixture
async def world(conn: asyncpg.Connection, make_api: MakeApi) -> AsyncIterator[World]:
    worn, managed, late, gone, partner = await _accounts(conn)
    callers = [
        await api_key(conn, Role.ADMIN),
        await api_key(conn, Role.OPERATOR),
        await api_key(conn, Role.PARTNER, partner_id=partner),
        frontend_token(worn),
        frontend_token(late),
    ]
    # View documents' own path off on both: "one of two operations" names a view (B).
    async with (
        make_api(fast_queries=False) as fast,
        make_api(fast_checks=False, fast_queries=False) as full,
    ):
        # Each fast document runs once through strawberry per role (on both, so that both
        # count the same denials).
        # A plan is per document and operation name (every fast document's is "A").
        warm = {"id": str(worn), "feature": "b0"}
        for caller, query, operation, api in itertools.product(
            callers, FAST.values(), (None, "A"), (fast, full)
        ):
            body = {"query": query, "variables": warm, "operationName": operation}
            headers = {"authorization": f"Bearer {caller}"}
            await api.client.post("/graphql", json=body, headers=headers)
        ids = [str(a) for a in (worn, managed, late, gone)]
        denials = (_count_denials(fast), _count_denials(full))
        yield World(fast, full, ids, callers, _count_runs(_view(fast)), denials)


def _variables(draw: Callable[[st.SearchStrategy[Any]], Any], world: World) -> dict[str, Any]:
    odd_json = st.none() | st.booleans() | st.integers() | st.lists(st.integers(), max_size=2)
    names = st.sampled_from(KEYS) | st.text(max_size=6) | odd_json
    ids = (
        st.sampled_from(world.accounts)
        | st.just(str(uuid.uuid4()))
        | st.sampled_from(["not-an-id", "", "1"])
        | odd_json
    )
    amounts = (
        st.integers(-5, 300)
        | st.floats(-10, 1e16)
        | st.just(1e15)
        | st.sampled_from(["1", None, True])
    )
    given = {"id": ids, "feature": names, "metric": names, "m": names, "requested": amounts}
    variables = {}
    for name, values in given.items():
        if draw(st.integers(0, 3)):  # each variable left out one time in four
            variables[name] = draw(values)
    return variables


async def _metrics() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The counts of requests, operations and errors recorded so far."""
    counts = {}
    for family in (metrics.HTTP_REQUESTS, metrics.GRAPHQL_OPERATION_SECONDS, metrics.ERRORS):
        for metric in family.collect():
            for sample in metric.samples:
                if sample.name.endswith(("_total", "_count")):
                    counts[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return counts


async def _recorded(send: Awaitable[httpx.Response]) -> tuple[httpx.Response, dict[Any, float]]:
    """The response, and what the metrics recorded for it."""
    before = await _metrics()
    response = await send
    after = await _metrics()
    return response, {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


def _count_denials(api: Api) -> list[tuple[Any, ...]]:
    """The denials and feature uses the replica counts from now on, in order (its tally is
    written every second, so it is watched as it is added to)."""
    assert api.app is not None
    denials: Denials = api.app.state.benefitgate.denials
    added: list[tuple[Any, ...]] = []

    def watch(name: str) -> None:
        count = getattr(denials, name)

        def counted(*args: Any) -> None:
            added.append((name, *args))
            count(*args)

        setattr(denials, name, counted)

    watch("add")
    watch("used")
    return added


async def _post(api: Api, body: bytes, auth: str, accept: str) -> httpx.Response:
    headers = {"authorization": f"Bearer {auth}", "content-type": "application/json"}
    headers["accept"] = accept
    return await api.client.post("/graphql", content=body, headers=headers)


def _seen(response: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = [(k, v) for k, v in response.headers.items() if k != "x-request-id"]
    return response.status_code, sorted(headers), response.content


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_the_fast_path_answers_every_request_as_strawberry_does(
    world: World, data: st.DataObject
) -> None:
    fast_document = data.draw(st.booleans())
    name, query = data.draw(st.sampled_from(sorted((FAST if fast_document else SLOW).items())))
    operation = data.draw(
        st.sampled_from(["A", "B", None] if name.startswith("one") else ["A", None])
    )
    body: dict[str, Any] = {"query": query, "variables": _variables(data.draw, world)}
    if operation is not None or data.draw(st.booleans()):
        body["operationName"] = operation
    encoded = httpx.Request("POST", "/", json=body).content
    caller = data.draw(st.sampled_from(world.callers))
    accept = data.draw(st.sampled_from(["application/json", "application/graphql-response+json"]))

    runs = world.strawberry_runs[0]
    fast, fast_metrics = await _recorded(_post(world.fast, encoded, caller, accept))
    answered_fast = world.strawberry_runs[0] == runs
    full, full_metrics = await _recorded(_post(world.full, encoded, caller, accept))

    assert _seen(fast) == _seen(full)
    assert fast_metrics == full_metrics
    fast_denials, full_denials = world.denials
    assert fast_denials == full_denials
    fast_denials.clear()
    full_denials.clear()
    # Every clean check of a known document, and nothing else, is answered in front.
    clean = full.status_code == 200 and "errors" not in full.json()
    # (Strawberry runs the first of two operations when none is named; the path leaves
    # that to it.)
    named = operation == "A" or not name.startswith("one")
    is_check = fast_document and named
    assert answered_fast == (is_check and clean), full.content


async def test_a_check_document_runs_through_strawberry_until_it_ran_cleanly_for_the_role(
    conn: asyncpg.Connection, make_api: MakeApi
) -> None:
    worn, *_ = await _accounts(conn)
    admin, frontend = await api_key(conn, Role.ADMIN), frontend_token(worn)
    variables = {"id": str(worn), "feature": "b0"}
    async with make_api() as api:
        runs = _count_runs(_view(api))
        for auth, expected_runs in [(admin, 1), (admin, 1), (frontend, 2), (frontend, 2)]:
            data = await api.data(CHECK, variables, auth=auth)
            assert data["entitlementCheck"]["allowed"] is True
            assert runs[0] == expected_runs
        # A refused request (a variable of the wrong type) teaches it nothing.
        refused = await api.post(CHECK, {"id": str(worn), "feature": 5}, auth=admin)
        assert refused.json()["errors"][0]["message"].startswith("Variable '$feature'")
        assert runs[0] == 3


async def test_a_role_held_to_the_manifest_is_held_to_it_on_the_fast_path_too(
    conn: asyncpg.Connection, make_api: MakeApi, tmp_path: Path
) -> None:
    """A document learnt for a free role stays refused for a restricted one; a trusted
    document named by id is answered in front once it has run for the role."""
    worn, *_ = await _accounts(conn)
    manifest = tmp_path / "manifest.json"
    trusted = {"id": document_id(CHECK), "body": CHECK}
    manifest.write_text(json.dumps({"format": FORMAT, "version": 1, "operations": [trusted]}))
    other, variables = FAST["alias and literal"], {"id": str(worn), "feature": "b0"}
    frontend = frontend_token(worn)
    async with make_api(documents=manifest) as api:
        runs = _count_runs(_view(api))
        for _ in range(2):
            assert (await api.data(other, variables, auth=await api_key(conn)))["check"]
            refused = await api.post(other, variables, auth=frontend)
            assert refused.status_code == 403
            code = refused.json()["errors"][0]["extensions"]["code"]
            assert code == "PERSISTED_QUERY_NOT_IN_LIST"
        by_id = {"documentId": f"sha256:{trusted['id']}", "variables": variables}
        headers = {"authorization": f"Bearer {frontend}"}
        for expected_runs in (4, 4):
            answer = await api.client.post("/graphql", json=by_id, headers=headers)
            assert answer.json()["data"]["entitlementCheck"]["allowed"] is True
            assert runs[0] == expected_runs


async def test_a_check_that_loses_its_database_is_answered_by_strawberry_as_unavailable(
    conn: asyncpg.Connection, make_api: MakeApi, dsn: str
) -> None:
    """The path gives up on an unexpected failure, counting nothing, and Strawberry runs the
    check again and answers what it meets, as it would have on its own."""
    worn, managed, *_ = await _accounts(conn)
    admin = await api_key(conn, Role.ADMIN)
    async with make_api() as api:
        await api.data(CHECK, {"id": str(worn), "feature": "b0"}, auth=admin)  # learnt
        runs, denials = _count_runs(_view(api)), _count_denials(api)
        async with locked(dsn, "accounts") as holder:  # the snapshot's load waits on it
            pending = asyncio.create_task(
                api.post(CHECK, {"id": str(managed), "feature": "b3"}, auth=admin)
            )
            assert await terminate_waiting(holder) == 1  # the fast path's load
            assert await terminate_waiting(holder) == 1  # Strawberry's, run again
            response = await asyncio.wait_for(pending, 30)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["data"] is None
        assert body["errors"][0]["extensions"] == {"code": "UNAVAILABLE", "retryable": True}
        assert runs[0] == 1
        assert denials == []
        # Once the database is back, the path answers.
        again = await api.data(CHECK, {"id": str(managed), "feature": "b3"}, auth=admin)
        assert again["entitlementCheck"]["allowed"] is True
        assert runs[0] == 1
