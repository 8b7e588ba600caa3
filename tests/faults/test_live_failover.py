"""Faults with real processes: a replica holding live subscribers killed with SIGKILL.
Its subscribers reconnect to the other replicas and resume from their last cursor: every
one of them ends with exactly the outbox's events for its partner, none lost, none twice.
Bounded: a fixed number of events, every wait limited, every replica stopped."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg

from benefitgate.auth.principals import Role
from benefitgate.events import outbox as events
from benefitgate.events.outbox import START, EventScope
from tests.conftest import JWT_SECRET, api_key
from tests.fixtures import factories
from tests.fixtures.live import ServiceProcess, resuming_subscriber, write_events

SUBSCRIBERS = 6  # two on each of three replicas


async def test_subscribers_of_a_killed_replica_resume_elsewhere_missing_nothing(
    dsn: str, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    cat = await factories.catalog(conn)
    partner = await factories.partner(conn)
    mine = [await factories.account(conn, cat["versions"]["basic"], partner_id=partner)]
    mine.append(await factories.account(conn, cat["versions"]["pro"], partner_id=partner))
    other = await factories.account(conn, cat["versions"]["basic"])
    key = await api_key(conn, Role.PARTNER, partner)
    replicas = [ServiceProcess(dsn, JWT_SECRET, tmp_path / f"r{n}") for n in range(3)]
    victim = replicas[0]
    dead: set[int] = set()

    def port_for(n: int) -> Callable[[], int]:
        def port() -> int:  # its own replica while it lives, else the next one alive
            alive = [r for r in replicas[n % 3 :] + replicas[: n % 3] if r.port not in dead]
            return alive[0].port

        return port

    received: list[list[dict[str, Any]]] = [[] for _ in range(SUBSCRIBERS)]
    interruptions: list[list[str]] = [[] for _ in range(SUBSCRIBERS)]
    thirty = asyncio.Event()  # the victim's first subscriber is well into the stream

    def on_event(n: int) -> Callable[[dict[str, Any]], None]:
        def seen(_: dict[str, Any]) -> None:
            if n == 0 and len(received[0]) >= 30:
                thirty.set()

        return seen

    await asyncio.gather(*(r.start() for r in replicas))
    try:
        subscribers = asyncio.gather(
            *(
                resuming_subscriber(
                    port_for(n),
                    key,
                    received[n],
                    until_type="test.end",
                    after=START.encode(),
                    interruptions=interruptions[n],
                    on_event=on_event(n),
                )
                for n in range(SUBSCRIBERS)
            )
        )
        writing = asyncio.ensure_future(write_events(dsn, [*mine, other], 300, end=mine[0]))
        await asyncio.wait_for(thirty.wait(), 30)
        dead.add(victim.port)
        await victim.kill()
        await asyncio.wait_for(writing, 60)
        await asyncio.wait_for(subscribers, 60)
    finally:
        await asyncio.gather(*(r.stop() for r in replicas))

    outbox = await events.read_feed(conn, START, 10_000, EventScope(partner_id=partner))
    expected = [(str(e.id), e.cursor.encode()) for e in outbox]
    assert len(expected) > 150
    for n in range(SUBSCRIBERS):
        assert [(e["id"], e["cursor"]) for e in received[n]] == expected, n
    # The victim's two subscribers lost their connection and resumed on another replica.
    assert interruptions[0] and interruptions[3]
    assert received[0][-1]["type"] == "test.end"
