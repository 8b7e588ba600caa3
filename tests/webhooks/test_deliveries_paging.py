"""An endpoint's delivery attempts page newest first by attempt id, a total order that no
later attempt shifts: attempts logged in one instant, or by a transaction that took its id
before others and commits after them, neither repeat nor hide one a walk could see at its
first page."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benefitgate.webhooks import repository
from benefitgate.webhooks.models import Attempt
from tests.conftest import Api, api_key
from tests.fixtures.factories import NOW
from tests.fixtures.walks import ENTRY, check_walk, writers
from tests.fixtures.webhook_api import create_endpoint

DELIVERIES = """query($id: ID!, $first: Int!, $after: String) {
  webhookDeliveries(endpointId: $id, first: $first, after: $after) {
    ... on WebhookDeliveries { attempts { webhookId } pageInfo { hasNextPage endCursor } } } }"""

# Between pages: log an attempt, commit an open one, or read the next page.
_STEP = st.one_of(
    st.tuples(st.just("write"), ENTRY),
    st.tuples(st.just("commit"), st.integers(0, 2)),
    st.tuples(st.just("page"), st.integers(1, 4)),
)


async def _page(
    api: Api, auth: str, endpoint: str, first: int, after: str | None
) -> dict[str, Any]:
    variables = {"id": endpoint, "first": first, "after": after}
    page: dict[str, Any] = (await api.data(DELIVERIES, variables, auth=auth))["webhookDeliveries"]
    return page


async def _full(api: Api, auth: str, endpoint: str) -> list[str]:
    found: list[str] = []
    after = None
    while True:
        page = await _page(api, auth, endpoint, 100, after)
        found += [a["webhookId"] for a in page["attempts"]]
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
async def test_a_walk_gives_each_attempt_once_while_attempts_commit_in_any_order(
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    hooks_api: Api,
    before: list[tuple[int, bool]],
    first: int,
    steps: list[tuple[str, Any]],
) -> None:
    api = hooks_api
    auth = await api_key(conn)
    url = "http://127.0.0.1:9/hooks/walk"  # nothing sent: no milestone is reached
    created = await create_endpoint(api, auth, url, types=["milestone.reached"])
    endpoint = created["endpoint"]["id"]

    async def log(conn: asyncpg.Connection, seconds: int) -> None:
        at = NOW + timedelta(seconds=seconds)
        sent = Attempt(
            0, uuid.UUID(endpoint), None, str(uuid.uuid4()), "test", at, True, 200, 1.0, None
        )
        await repository.log_attempt(conn, sent)

    async with writers(pool, log) as written:
        for entry in before:
            await written.write(*entry)
        page = await _page(api, auth, endpoint, first, None)
        at_start = await _full(api, auth, endpoint)
        walked = [a["webhookId"] for a in page["attempts"]]
        for kind, arg in [*steps, *([("page", 4)] * 20)]:
            if kind == "write":
                await written.write(*arg)
            elif kind == "commit":
                await written.commit(arg)
            elif page["pageInfo"]["hasNextPage"]:
                page = await _page(api, auth, endpoint, arg, page["pageInfo"]["endCursor"])
                walked += [a["webhookId"] for a in page["attempts"]]
            if kind == "page" and not written.open and not page["pageInfo"]["hasNextPage"]:
                break
        await written.commit_all()
    final = await _full(api, auth, endpoint)

    assert not page["pageInfo"]["hasNextPage"]
    check_walk(at_start, walked, final)
