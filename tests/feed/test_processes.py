"""Live events across real processes: `benefitgate serve` subprocesses, real WebSocket
clients, and the outbox as the reference for what every subscriber must have seen."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg

from benefitgate.auth.principals import Role
from benefitgate.events import outbox as events
from benefitgate.events.outbox import START, EventScope
from tests.conftest import JWT_SECRET, api_key
from tests.fixtures import factories
from tests.fixtures.live import (
    ServiceProcess,
    resuming_subscriber,
    subscribe,
    write_events,
    ws_client,
)

SEATS_CHANGED = "seats.changed"
SEAT_ASSIGN = """mutation($id: ID!, $user: String!, $key: String!) {
  seatAssign(accountId: $id, user: $user, idempotencyKey: $key) { __typename } }"""


async def _managed_accounts(conn: asyncpg.Connection) -> tuple[UUID, list[UUID], UUID]:
    """A partner managing two accounts, and an account of nobody's."""
    cat = await factories.catalog(conn)
    partner = await factories.partner(conn)
    mine = [await factories.account(conn, cat["versions"]["basic"], partner_id=partner)]
    mine.append(await factories.account(conn, cat["versions"]["pro"], partner_id=partner))
    other = await factories.account(conn, cat["versions"]["basic"])
    return partner, mine, other


async def test_a_mutation_served_by_another_process_reaches_the_subscriber(
    dsn: str, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    partner, (account, _), _ = await _managed_accounts(conn)
    admin, partner_key = await api_key(conn), await api_key(conn, Role.PARTNER, partner)
    listening = ServiceProcess(dsn, JWT_SECRET, tmp_path / "a")
    writing = ServiceProcess(dsn, JWT_SECRET, tmp_path / "b")
    await asyncio.gather(listening.start(), writing.start())
    try:
        async with ws_client(listening.port, partner_key) as session:
            # The seat's event alone: the service runs on the real clock, past the factories'
            # periods, so the assignment first writes the renewals that came due.
            stream = subscribe(
                session, accounts=[str(account)], types=[SEATS_CHANGED], after=START.encode()
            )
            async with contextlib.aclosing(stream):
                received = asyncio.ensure_future(anext(stream))
                variables = {"id": str(account), "user": "ada", "key": "k1"}
                await writing.post(SEAT_ASSIGN, variables, admin)
                event = await asyncio.wait_for(received, 10)
    finally:
        await asyncio.gather(listening.stop(), writing.stop())

    written = await events.read_feed(conn, START, 10, EventScope(everything=True))
    [outbox] = [e for e in written if e.type == SEATS_CHANGED]
    assert event["__typename"] == "Event"
    assert (event["id"], event["cursor"], event["type"], event["accountId"]) == (
        str(outbox.id),
        outbox.cursor.encode(),
        SEATS_CHANGED,
        str(account),
    )
    assert event["payload"] == outbox.payload


async def test_a_resumed_subscriber_and_one_that_survives_a_restart_miss_nothing(
    dsn: str, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    partner, mine, other = await _managed_accounts(conn)
    key = await api_key(conn, Role.PARTNER, partner)
    first = ServiceProcess(dsn, JWT_SECRET, tmp_path / "a")
    restarted = ServiceProcess(dsn, JWT_SECRET, tmp_path / "b")
    await asyncio.gather(first.start(), restarted.start())
    leaving: list[dict[str, Any]] = []
    surviving: list[dict[str, Any]] = []
    interruptions: list[str] = []
    after = START.encode()
    sixty = asyncio.Event()
    subscribers = asyncio.gather(
        resuming_subscriber(
            lambda: first.port, key, leaving, until_type="test.end", after=after, leave_after=40
        ),
        resuming_subscriber(
            lambda: restarted.port,
            key,
            surviving,
            until_type="test.end",
            after=after,
            interruptions=interruptions,
            on_event=lambda _: sixty.set() if len(surviving) >= 60 else None,
        ),
    )
    try:
        writing = asyncio.ensure_future(write_events(dsn, [*mine, other], 240, end=mine[0]))
        await asyncio.wait_for(sixty.wait(), 20)
        await restarted.stop()
        await restarted.start()
        await writing
        await asyncio.wait_for(subscribers, 30)
    finally:
        await asyncio.gather(first.stop(), restarted.stop())

    outbox = await events.read_feed(conn, START, 10_000, EventScope(partner_id=partner))
    expected = [(str(e.id), e.cursor.encode()) for e in outbox]
    assert len(expected) > 150
    assert [(e["id"], e["cursor"]) for e in leaving] == expected
    assert [(e["id"], e["cursor"]) for e in surviving] == expected
    assert interruptions, "the restart should have interrupted the surviving subscriber"
    assert all(e["accountId"] in {str(a) for a in mine} for e in surviving)
