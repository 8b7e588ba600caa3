"""The audit log and an account's audit trail page newest first by entry id, a total order
that no later entry shifts: entries written in one instant, and entries whose transaction
took its id before others and commits after them, neither repeat nor hide an entry a walk
could see at its first page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benefitgate.audit import service as audit
from benefitgate.audit.models import Target
from benefitgate.common.changes import ChangeContext
from tests.conftest import Api, api_key, frontend_token
from tests.fixtures import factories
from tests.fixtures.factories import NOW
from tests.fixtures.walks import ENTRY, check_walk, writers

LOG = """query($id: ID!, $first: Int!, $after: String) {
  auditLog(accountId: $id, first: $first, after: $after) {
    ... on AuditPage { entries { id } pageInfo { hasNextPage endCursor } } } }"""
TRAIL = """query($id: ID!, $first: Int!, $after: String) { account(id: $id) {
  ... on Account { auditTrail(first: $first, after: $after) {
    ... on AccountChangePage { entries: changes { id } pageInfo { hasNextPage endCursor } }
  } } } }"""

# Between pages: write an entry, commit the oldest open one, or read the next page.
_STEP = st.one_of(
    st.tuples(st.just("write"), ENTRY),
    st.tuples(st.just("commit"), st.integers(0, 2)),
    st.tuples(st.just("page"), st.integers(1, 4)),
)


async def _page(
    api: Api, query: str, auth: str, account: UUID, first: int, after: str | None
) -> dict[str, Any]:
    data = await api.data(query, {"id": str(account), "first": first, "after": after}, auth=auth)
    page: dict[str, Any] = data["auditLog"] if "auditLog" in data else data["account"]["auditTrail"]
    return page


async def _full(api: Api, query: str, auth: str, account: UUID) -> list[str]:
    found: list[str] = []
    after = None
    while True:
        page = await _page(api, query, auth, account, 100, after)
        found += [e["id"] for e in page["entries"]]
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


@pytest.mark.parametrize("query", [LOG, TRAIL], ids=["log", "trail"])
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
async def test_a_walk_gives_each_entry_once_while_entries_commit_in_any_order(
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    api: Api,
    query: str,
    before: list[tuple[int, bool]],
    first: int,
    steps: list[tuple[str, Any]],
) -> None:
    """Entries whose ids were taken before the walk's first page but which commit after it
    are new to the walk, as entries written after it are: it may give them or not, but
    once, in their place; every entry committed before its first page it gives."""
    version = await conn.fetchval("select min(id) from tier_versions")
    if version is None:
        version = (await factories.catalog(conn))["versions"]["basic"]
    account = await factories.account(conn, version)
    auth = await api_key(conn) if query is LOG else frontend_token(account)

    async def note(conn: asyncpg.Connection, seconds: int) -> None:
        change = ChangeContext("user-1", "", None, NOW + timedelta(seconds=seconds))
        await audit.record(conn, change, "note", Target("grant", "g", account), None, {})

    async with writers(pool, note) as written:
        for seconds, keep_open in before:
            await written.write(seconds, keep_open)
        page = await _page(api, query, auth, account, first, None)
        at_start = await _full(api, query, auth, account)
        walked = [e["id"] for e in page["entries"]]
        for kind, arg in [*steps, *([("page", 4)] * 20)]:
            if kind == "write":
                await written.write(*arg)
            elif kind == "commit":
                await written.commit(arg)
            elif page["pageInfo"]["hasNextPage"]:
                after = page["pageInfo"]["endCursor"]
                page = await _page(api, query, auth, account, arg, after)
                walked += [e["id"] for e in page["entries"]]
            if kind == "page" and not written.open and not page["pageInfo"]["hasNextPage"]:
                break
        await written.commit_all()
    final = await _full(api, query, auth, account)

    assert not page["pageInfo"]["hasNextPage"]
    check_walk(at_start, walked, final)
