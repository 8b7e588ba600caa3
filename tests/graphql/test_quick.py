"""Repeated hits and checks answered before the view's machinery (`graphql.quick`): the
same status, headers and body as the view gives, and only what the view would answer so."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from benefitgate.clock import FixedClock
from benefitgate.graphql.view import GraphQLView
from tests.conftest import Api, MakeApi, api_key, frontend_token
from tests.fixtures import factories
from tests.fixtures.metering_api import CHECK
from tests.graphql.test_known import _view

VIEW = """query($id: ID!) { account(id: $id) { __typename
  ... on Account { id name entitlements { benefit { key } } } } }"""
RENAME = """mutation($id: ID!, $version: Int!) { accountUpdate(id: $id,
  expectedVersion: $version, name: "Renamed 2", idempotencyKey: "rename-1") { __typename } }"""
RENAME = """mutation($id: ID!, $version: Int!) { accountUpdate(id: $id,
  expectedVersion: $version, name: "Renamed 2", idempotencyKey: "rename-1") { __typename } }"""
GRAPHQL_RESPONSE = "application/graphql-response+json"
START = factories.NOW + timedelta(minutes=1)  # the factories' grants began before it


def _count_quick(view: GraphQLView) -> list[bool]:
    """Whether each POST was answered by the quick path, in order."""
    answered: list[bool] = []
    answer = view.quick.answer

    async def counted(*args: Any) -> bool:
        answered.append(await answer(*args))
        return answered[-1]

    view.quick.answer = counted  # type: ignore[method-assign,assignment]
    return answered


def _seen(response: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = [(k, v) for k, v in response.headers.multi_items() if k != "x-request-id"]
    return response.status_code, headers, response.content


async def _post(api: Api, body: bytes, credential: str, accept: str | None) -> httpx.Response:
    headers = {"authorization": f"Bearer {credential}", "content-type": "application/json"}
    if accept is not None:
        headers["accept"] = accept
    return await api.client.post("/graphql", content=body, headers=headers)


@pytest.mark.parametrize("accept", [None, GRAPHQL_RESPONSE, f"{GRAPHQL_RESPONSE}, */*"])
async def test_a_repeated_check_and_hit_are_answered_as_the_view_answers_them(
    make_api: MakeApi, conn: asyncpg.Connection, accept: str | None
) -> None:
    cat = await factories.catalog(conn)
    account = await factories.account(conn, cat["versions"]["basic"])
    admin = await api_key(conn)
    check = json.dumps({"query": CHECK, "variables": {"id": str(account), "feature": "b0"}})
    view = json.dumps({"query": VIEW, "variables": {"id": str(account)}})
    async with make_api(response_cache=True, clock=FixedClock(START)) as api:
        answered = _count_quick(_view(api))
        checks = [_seen(await _post(api, check.encode(), admin, accept)) for _ in range(3)]
        views = [_seen(await _post(api, view.encode(), admin, accept)) for _ in range(3)]

    # A check: read and run by strawberry, then answered by the fast path in the view;
    # a view: read and executed, then a hit. Each later one by the quick path.
    assert answered == [False, True, True, False, True, True]
    assert checks[0] == checks[1] == checks[2] and checks[0][0] == 200
    assert views[0] == views[1] == views[2] and views[0][0] == 200
    media = GRAPHQL_RESPONSE if accept else "application/json"
    assert ("content-type", media) in checks[0][1] and ("content-type", media) in views[0][1]


async def test_the_quick_path_answers_only_its_own_callers_and_fresh_entries(
    make_api: MakeApi, conn: asyncpg.Connection
) -> None:
    cat = await factories.catalog(conn)
    mine = await factories.account(conn, cat["versions"]["basic"])
    other = await factories.account(conn, cat["versions"]["basic"])
    body = json.dumps({"query": VIEW, "variables": {"id": str(mine)}}).encode()
    async with make_api(response_cache=True, clock=FixedClock(START)) as api:
        answered = _count_quick(_view(api))
        own = [(await _post(api, body, frontend_token(mine), None)).json() for _ in range(2)]
        stranger = (await _post(api, body, frontend_token(other), None)).json()
        unauthenticated = await _post(api, body, "not-a-token", None)
        # The same bytes from the same caller after a change to the account: its event
        # drops the entry, so the view executes the request again.
        admin = await api_key(conn)
        version = await conn.fetchval("select version from accounts where id = $1", mine)
        renamed = await api.client.post(
            "/graphql",
            json={"query": RENAME, "variables": {"id": str(mine), "version": version}},
            headers={"authorization": f"Bearer {admin}"},
        )
        after = (await _post(api, body, frontend_token(mine), None)).json()

    assert own[0] == own[1] and own[0]["data"]["account"]["id"] == str(mine)
    assert stranger["data"]["account"]["__typename"] == "NotFoundError"
    assert unauthenticated.status_code == 401
    assert renamed.status_code == 200 and "errors" not in renamed.json(), renamed.text
    assert after["data"]["account"]["name"] == "Renamed 2"
    assert answered[:3] == [False, True, False]  # the stranger's key is its own: a miss
