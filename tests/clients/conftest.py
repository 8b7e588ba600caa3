"""What both clients' tests share: an account a partner manages, served live on a port
that a restart keeps, and the outbox events a client must receive."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from benefitgate.app import create_app
from benefitgate.auth.principals import Role
from benefitgate.clock import FixedClock
from benefitgate.config import Settings
from benefitgate.events import outbox as events
from tests.conftest import api_key
from tests.fixtures import factories
from tests.fixtures.live import free_port, serve_in_process


@dataclass
class Scene:
    dsn: str
    conn: asyncpg.Connection
    settings: Settings
    clock: FixedClock
    account: UUID
    partner_key: str
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[None]:
        """A replica on the scene's port; leaving it stops it as a SIGTERM would (live
        streams end with SHUTTING_DOWN, sockets close with 1012)."""
        app = create_app(self.settings, self.dsn, clock=self.clock)
        async with serve_in_process(app, port=self.port):
            yield

    async def write(self, kind: str, count: int) -> None:
        for n in range(count):
            await events.enqueue(self.conn, kind, self.account, {"n": n})

    async def outbox_ids(self) -> list[str]:
        rows = await self.conn.fetch(
            "select id from events where account_id = $1 order by txid, id", self.account
        )
        return [str(r["id"]) for r in rows]


@pytest.fixture
async def scene(conn: asyncpg.Connection, dsn: str, settings: Settings, clock: FixedClock) -> Scene:
    cat = await factories.catalog(conn)
    partner = await factories.partner(conn)
    account = await factories.account(conn, cat["versions"]["basic"], partner_id=partner)
    await factories.usage(conn, account, "m0", 40)
    key = await api_key(conn, Role.PARTNER, partner)
    return Scene(dsn, conn, replace(settings), clock, account, key, free_port())


def lines_of(printed: list[dict[str, Any]], step: str) -> list[dict[str, Any]]:
    return [line for line in printed if line["step"] == step]


Example = Callable[[], contextlib.AbstractAsyncContextManager[asyncio.subprocess.Process]]


async def through_a_restart(scene: Scene, example: Example) -> list[dict[str, Any]]:
    """Run a client's example (a query, a mutation sent twice with one key, then the
    account's events from the start of the outbox until `test.end`) while the replica it
    talks to stops after four events and another starts on the same port; events are
    written before, between and after. Returns the JSON lines it printed."""
    await scene.write("test.tick", 3)
    printed: list[dict[str, Any]] = []
    async with contextlib.AsyncExitStack() as first:
        await first.enter_async_context(scene.serving())
        async with example() as process:
            await _read_until(process, printed, 4)  # three ticks, the consumption's event
            await first.aclose()
            await scene.write("test.tock", 3)  # while no replica serves
            async with scene.serving():
                await scene.write("test.tick", 2)
                await scene.write("test.end", 1)
                await _read_until(process, printed, 10)
                assert await asyncio.wait_for(process.wait(), 30) == 0
    return printed


async def assert_every_event_once_and_the_retry_replayed(
    scene: Scene, printed: list[dict[str, Any]]
) -> None:
    first, retry = (line["result"] for line in lines_of(printed, "mutation"))
    assert first["__typename"] == "UsageConsumed" and first["used"] == 45
    assert first["replayed"] is False
    assert retry == {**first, "replayed": True}  # the same key: replayed, not consumed again
    received = [line["id"] for line in lines_of(printed, "event")]
    assert received == await scene.outbox_ids()  # every event once, in cursor order
    assert lines_of(printed, "interrupted"), "the restart interrupted the stream"


async def _read_until(
    process: asyncio.subprocess.Process, printed: list[dict[str, Any]], events: int
) -> None:
    """Read the example's lines until it has printed `events` events."""
    assert process.stdout is not None
    while len(lines_of(printed, "event")) < events:
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        if not line:
            assert process.stderr is not None
            raise AssertionError((await process.stderr.read()).decode())
        printed.append(json.loads(line))
