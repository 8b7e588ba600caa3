"""Rendering a live event once per document must never mix up what subscribers asked for:
variables used in the selection, and other documents, get their own rendering."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import asyncpg
import pytest
from gql import GraphQLRequest
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)

from benefitgate.events import outbox as events
from benefitgate.events.outbox import START
from benefitgate.feed.types import Event
from benefitgate.graphql.fast.delivery import Delivery
from benefitgate.graphql.fast.render import LiveEventExecutor
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


async def test_live_events_go_straight_to_the_socket_rendered_once_per_document(
    conn: asyncpg.Connection, live_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    stock_messages: list[str] = []
    renderings: list[object] = []
    send_message = BaseGraphQLTransportWSHandler.send_message
    execute_operation = LiveEventExecutor.execute_operation

    async def spy_send(self: Any, message: Any) -> None:
        stock_messages.append(message["type"])
        await send_message(self, message)

    def spy_execute(self: LiveEventExecutor, serially: bool | None = None) -> Any:
        if isinstance(self.root_value, Event):
            renderings.append(self.root_value)
        return execute_operation(self, serially)

    monkeypatch.setattr(BaseGraphQLTransportWSHandler, "send_message", spy_send)
    monkeypatch.setattr(LiveEventExecutor, "execute_operation", spy_execute)
    await events.enqueue(conn, "test.direct", None, {"n": 1})
    async with ws_client(live_port, await api_key(conn)) as session:
        first = await _first(session, DOCUMENT, withPayload=True)
        second = await _first(session, DOCUMENT, withPayload=True)

    assert first == second and first["events"]["payload"] == {"n": 1}
    assert "connection_ack" in stock_messages  # the spy sees the stock path's messages
    assert "next" not in stock_messages
    assert len(renderings) == 1


class _Renderer:
    def __init__(self, payload: str | None) -> None:
        self.payload = payload

    async def encoded_payload(self, event: Event) -> str | None:
        return self.payload


async def test_a_delivery_sends_a_spliced_frame_or_leaves_the_event_to_the_stock_path() -> None:
    sent: list[str] = []

    async def send_text(text: str) -> None:
        sent.append(text)

    operation = Operation(None, 'op "1"', "", None, None)  # type: ignore[arg-type]
    delivery = Delivery(operation, send_text)
    event = Event(id="1", cursor="c", type="t", account_id=None, payload={}, created_at=None)  # type: ignore[arg-type]

    assert not await delivery.send(event)  # not subscribed yet
    delivery.renderer = _Renderer(None)
    assert not await delivery.send(event)  # the rendering has errors
    delivery.renderer = _Renderer('{"data":{"events":{"id":"1"}}}')
    assert await delivery.send(event)
    operation.completed = True
    assert await delivery.send(event)  # nothing goes out after `complete`

    assert [json.loads(text) for text in sent] == [
        {"id": 'op "1"', "type": "next", "payload": {"data": {"events": {"id": "1"}}}}
    ]
