"""The account list pages by account id, a total order that accounts created during a walk
(committed in any order) neither shift nor repeat: a walk gives every account there at its
first page once, and those created since at most once, in their place."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benefitgate.auth.principals import Role
from tests.conftest import Api, api_key
from tests.fixtures import factories
from tests.fixtures.walks import ENTRY, check_walk, writers

ACCOUNTS = """query($first: Int!, $after: String) { accounts(first: $first, after: $after) {
  ... on AccountConnection { edges { node { id } } pageInfo { hasNextPage endCursor } } } }"""

# Between pages: create an account, commit an open creation, or read the next page.
_STEP = st.one_of(
    st.tuples(st.just("write"), ENTRY),
    st.tuples(st.just("commit"), st.integers(0, 2)),
    st.tuples(st.just("page"), st.integers(1, 4)),
)


async def _page(api: Api, auth: str, first: int, after: str | None) -> dict[str, Any]:
    page: dict[str, Any] = (await api.data(ACCOUNTS, {"first": first, "after": after}, auth=auth))[
        "accounts"
    ]
    return page


async def _full(api: Api, auth: str) -> list[str]:
    found: list[str] = []
    after = None
    while True:
        page = await _page(api, auth, 100, after)
        found += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    before=st.lists(ENTRY, max_size=8),
    first=st.integers(1, 4),
    steps=st.lists(_STEP, max_size=20),
)
async def test_a_walk_gives_each_account_once_while_accounts_are_created(
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    api: Api,
    before: list[tuple[int, bool]],
    first: int,
    steps: list[tuple[str, Any]],
) -> None:
    version = await conn.fetchval("select min(id) from tier_versions")
    if version is None:
        version = (await factories.catalog(conn))["versions"]["basic"]
    partner = await factories.partner(conn)
    auth = await api_key(conn, Role.PARTNER, partner)

    async def create(conn: asyncpg.Connection, _: int) -> None:
        account = uuid.uuid4()
        await conn.execute("insert into accounts (id, name) values ($1, 'Acme')", account)
        await conn.execute("insert into partner_accounts values ($1, $2)", partner, account)

    async with writers(pool, create) as written:
        for entry in before:
            await written.write(*entry)
        page = await _page(api, auth, first, None)
        at_start = await _full(api, auth)
        walked = [e["node"]["id"] for e in page["edges"]]
        for kind, arg in [*steps, *([("page", 4)] * 20)]:
            if kind == "write":
                await written.write(*arg)
            elif kind == "commit":
                await written.commit(arg)
            elif page["pageInfo"]["hasNextPage"]:
                page = await _page(api, auth, arg, page["pageInfo"]["endCursor"])
                walked += [e["node"]["id"] for e in page["edges"]]
            if kind == "page" and not written.open and not page["pageInfo"]["hasNextPage"]:
                break
        await written.commit_all()
    final = await _full(api, auth)

    assert not page["pageInfo"]["hasNextPage"]
    check_walk(at_start, walked, final)
