"""The live `events(types:)` takes only event types the service writes: an unknown one
(a typo) ends the stream at once with the typed input error naming it, wherever it stands
in the list; it used to leave the stream open and silent."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncpg
import pytest

from benefitgate.events import kinds
from benefitgate.events import outbox as events
from benefitgate.events.outbox import START
from tests.conftest import api_key
from tests.fixtures import factories
from tests.fixtures.live import subscribe, ws_client

DOCUMENT = """subscription($accounts: [ID!], $types: [String!], $after: String) {
  events(accountIds: $accounts, types: $types, after: $after) {
    __typename
    ... on Event { type payload }
    ... on Error { code message }
    ... on InvalidInputError { field }
  }
}"""


async def _answers(port: int, key: str, types: list[str]) -> list[dict[str, Any]]:
    """Every member of a stream that must end by itself."""
    async with (
        ws_client(port, key) as session,
        contextlib.aclosing(subscribe(session, types=types, document=DOCUMENT)) as stream,
    ):
        return await asyncio.wait_for(_all(stream), 10)


async def _all(stream: Any) -> list[dict[str, Any]]:
    return [answer async for answer in stream]


@pytest.mark.parametrize(
    ("types", "unknown"),
    [
        (["milestone.reachd"], ["milestone.reachd"]),
        (["milestone.reachd", "seats.changed"], ["milestone.reachd"]),
        (["seats.changed", "nope.one", "entitlement.changed"], ["nope.one"]),
        (["seats.changed", "milestone.reached", "Milestone.Reached"], ["Milestone.Reached"]),
        (["webhook.test"], ["webhook.test"]),
        (["a.b", "seats.changed", "c.d", "a.b"], ["a.b", "c.d"]),
        ([""], [""]),
        (["seats.changed", "x" * 101], ["x" * 40 + "…"]),
    ],
)
async def test_an_unknown_type_anywhere_in_the_list_is_invalid_input(
    conn: asyncpg.Connection, live_port: int, types: list[str], unknown: list[str]
) -> None:
    answers = await _answers(live_port, await api_key(conn), types)

    assert answers == [
        {
            "__typename": "InvalidInputError",
            "code": "INVALID_INPUT",
            "message": "unknown event types: " + ", ".join(repr(t) for t in unknown),
            "field": "types",
        }
    ]


async def test_listed_types_are_accepted_and_narrow_the_stream(
    conn: asyncpg.Connection, live_port: int
) -> None:
    await events.enqueue(conn, "seats.changed", None, {"n": 1})
    await events.enqueue(conn, "catalog.published", None, {"n": 2})
    wanted = ["milestone.reached", "seats.changed"]
    async with (
        ws_client(live_port, await api_key(conn)) as session,
        contextlib.aclosing(
            subscribe(session, types=wanted, after=START.encode(), document=DOCUMENT)
        ) as stream,
    ):
        replayed = await asyncio.wait_for(anext(stream), 10)
        await events.enqueue(conn, "entitlement.changed", None, {"n": 3})
        await events.enqueue(conn, "milestone.reached", None, {"n": 4})
        live = await asyncio.wait_for(anext(stream), 10)

    assert [replayed, live] == [
        {"__typename": "Event", "type": "seats.changed", "payload": {"n": 1}},
        {"__typename": "Event", "type": "milestone.reached", "payload": {"n": 4}},
    ]


async def test_every_listed_type_is_accepted(conn: asyncpg.Connection, live_port: int) -> None:
    await events.enqueue(conn, kinds.TYPES[-1], None, {})
    async with (
        ws_client(live_port, await api_key(conn)) as session,
        contextlib.aclosing(
            subscribe(session, types=list(kinds.TYPES), after=START.encode(), document=DOCUMENT)
        ) as stream,
    ):
        first = await asyncio.wait_for(anext(stream), 10)

    assert first == {"__typename": "Event", "type": kinds.TYPES[-1], "payload": {}}


async def test_naming_accounts_refuses_types_whose_events_carry_none(
    conn: asyncpg.Connection, live_port: int
) -> None:
    """Global events come only when no account is named: `catalog.published` with
    `accountIds` would follow nothing. Without `accountIds` the same types are taken."""
    cat = await factories.catalog(conn)
    account = str(await factories.account(conn, cat["versions"]["basic"]))
    key = await api_key(conn)
    async with (
        ws_client(live_port, key) as session,
        contextlib.aclosing(
            subscribe(
                session,
                accounts=[account],
                types=["seats.changed", "catalog.published"],
                document=DOCUMENT,
            )
        ) as stream,
    ):
        narrowed = await asyncio.wait_for(_all(stream), 10)
    await events.enqueue(conn, "catalog.published", None, {"n": 1})
    async with (
        ws_client(live_port, key) as session,
        contextlib.aclosing(
            subscribe(session, types=["catalog.published"], after=START.encode(), document=DOCUMENT)
        ) as stream,
    ):
        everything = await asyncio.wait_for(anext(stream), 10)

    assert narrowed == [
        {
            "__typename": "InvalidInputError",
            "code": "INVALID_INPUT",
            "message": "only accounts' events come here, and these carry no account: "
            "'catalog.published'",
            "field": "types",
        }
    ]
    assert everything == {"__typename": "Event", "type": "catalog.published", "payload": {"n": 1}}
