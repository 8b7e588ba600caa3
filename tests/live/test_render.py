"""Rendering a live event once per document must never mix up what subscribers asked for:
variables used in the selection, and other documents, get their own rendering."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncpg
from gql import GraphQLRequest

from benefitgate import events
from benefitgate.events import START
from tests.conftest import api_key
from tests.fixtures.live import ws_client

DOCUMENT = """subscription($after: String, $accounts: [ID!], $types: [String!],
                           $withPayload: Boolean!) {
  events(after: $after, accountIds: $accounts, types: $types) {
    __typename ... on Event { id type payload @include(if: $withPayload) } } }"""
ALIASED = """subscription($after: String, $accounts: [ID!], $types: [String!]) {
  live: events(after: $after, accountIds: $accounts, types: $types) {
    __typename ... on Event { eventId: id cursor } } }"""


async def _first(session: Any, document: str, **variables: Any) -> dict[str, Any]:
    defaults = {"after": START.encode(), "accounts": None, "types": None}
    stream = session.subscribe(GraphQLRequest(document, variable_values=defaults | variables))
    async with contextlib.aclosing(stream):
        result: dict[str, Any] = await asyncio.wait_for(anext(stream), 10)
    return result


async def test_subscribers_sharing_a_rendering_still_get_what_they_asked_for(
    conn: asyncpg.Connection, live_port: int
) -> None:
    written = await events.enqueue(conn, "test.shared", None, {"n": 1})
    async with ws_client(live_port, await api_key(conn)) as session:
        with_payload = await _first(session, DOCUMENT, withPayload=True)
        again = await _first(session, DOCUMENT, withPayload=True)
        without = await _first(session, DOCUMENT, withPayload=False)
        aliased = await _first(session, ALIASED)

    assert (
        with_payload
        == again
        == {
            "events": {
                "__typename": "Event",
                "id": str(written),
                "type": "test.shared",
                "payload": {"n": 1},
            }
        }
    )
    assert without == {"events": {"__typename": "Event", "id": str(written), "type": "test.shared"}}
    assert aliased["live"]["eventId"] == str(written) and "cursor" in aliased["live"]
