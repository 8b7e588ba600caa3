"""Queries on a read replica (a real streaming standby): they read the standby when it has
replayed every change the process has heard of, the primary otherwise (a write of their
own not yet looked past, a standby paused behind, or one that is down), so no answer is
older than what the process already knows."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from benefitgate import db
from benefitgate.app import create_app
from benefitgate.clock import FixedClock
from benefitgate.config import Settings
from benefitgate.events import outbox as events
from benefitgate.events.outbox import START, EventScope
from benefitgate.telemetry import metrics
from tests.conftest import api_key
from tests.fixtures import factories
from tests.fixtures.live import serve_in_process
from tests.fixtures.standby import Standby, primary_and_standby

EVERYTHING = EventScope(everything=True)

VIEW = """query($id: ID!) { account(id: $id) { ... on Account { name version } } }"""
RENAME = """mutation($id: ID!, $v: Int!, $name: String!, $key: String!) {
  accountUpdate(id: $id, expectedVersion: $v, name: $name, idempotencyKey: $key) {
    __typename ... on Error { code } } }"""


class Gateway:
    def __init__(self, http: httpx.AsyncClient, key: str, account: str) -> None:
        self.http, self.key, self.account = http, key, account

    async def post(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        answer = await self.http.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"authorization": f"Bearer {self.key}"},
        )
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    async def view(self) -> dict[str, Any]:
        found: dict[str, Any] = (await self.post(VIEW, {"id": self.account}))["account"]
        return found

    async def rename(self, name: str) -> None:
        version = (await self.view())["version"]
        variables = {"id": self.account, "v": version, "name": name, "key": name}
        renamed = await self.post(RENAME, variables)
        assert renamed["accountUpdate"]["__typename"] == "AccountProvisioned", renamed


@pytest.fixture
async def replicated(
    settings: Settings, clock: FixedClock
) -> AsyncIterator[tuple[Gateway, str, Standby]]:
    async with primary_and_standby() as (primary, standby):
        conn = await db.connect(primary)
        cat = await factories.catalog(conn)
        account = await factories.account(conn, cat["versions"]["basic"])
        key = await api_key(conn)
        await conn.close()
        await standby.caught_up(primary)
        app = create_app(replace(settings, read_database_url=standby.dsn), primary, clock=clock)
        async with (
            serve_in_process(app) as port,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
        ):
            yield Gateway(http, key, str(account)), primary, standby


def _reads(route: str) -> float:
    counted: float = metrics.REPLICA_READS.labels(route)._value.get()
    return counted


async def _transactions_on(standby: Standby) -> int:
    """Transactions the standby has run in the gateway's database (its own statistics)."""
    conn = await db.connect(standby.dsn)
    try:
        await conn.execute("select pg_stat_clear_snapshot()")
        counted: int = await conn.fetchval(
            "select xact_commit + xact_rollback from pg_stat_database where datname = $1",
            "replicated",
        )
        return counted
    finally:
        await conn.close()


async def test_queries_read_the_standby_when_it_is_current(
    replicated: tuple[Gateway, str, Standby],
) -> None:
    gateway, primary, standby = replicated
    await standby.caught_up(primary)
    await asyncio.sleep(1.2)  # the listener's next timed look, after that commit
    on_replica, before = _reads("replica"), await _transactions_on(standby)
    views = [await gateway.view() for _ in range(5)]
    routed = _reads("replica") - on_replica
    # Backends report their statistics when idle, at most every second, within ten.
    for _ in range(150):
        if await _transactions_on(standby) - before >= 5:
            break
        await asyncio.sleep(0.1)
    counted = await _transactions_on(standby) - before

    assert [v["name"] for v in views] == ["Acme"] * 5
    assert routed == 5
    assert counted >= 5  # the standby ran them: one transaction per view


async def test_a_write_is_read_back_at_once_while_the_standby_is_behind(
    replicated: tuple[Gateway, str, Standby],
) -> None:
    gateway, _, standby = replicated
    await standby.pause()
    read_back = []
    for n in range(5):
        await gateway.rename(f"Name {n}")
        read_back.append((await gateway.view())["name"])
    await standby.resume()

    assert read_back == [f"Name {n}" for n in range(5)]


async def test_queries_read_the_primary_while_the_standby_is_down(
    replicated: tuple[Gateway, str, Standby],
) -> None:
    gateway, _, standby = replicated
    standby.stop()
    unavailable = _reads("unavailable")
    await gateway.rename("After")
    views = [(await gateway.view())["name"] for _ in range(3)]

    assert views == ["After"] * 3
    assert _reads("unavailable") > unavailable


async def test_a_feed_page_on_the_standby_settles_below_the_primarys_open_transactions() -> None:
    async with primary_and_standby() as (primary, standby):
        open_one, reader = await db.connect(primary), await db.connect(standby.dsn)
        try:
            transaction = open_one.transaction()
            await transaction.start()
            await events.enqueue(open_one, "test.late", None, {})  # takes its xid now
            await standby.caught_up(primary)
            empty = await events.read_feed_page(reader, START, 10, EVERYTHING)
            await transaction.commit()
            await standby.caught_up(primary)
            late = await events.read_feed_page(reader, empty.settled, 10, EVERYTHING)
        finally:
            await open_one.close()
            await reader.close()

    # The standby sees no backend of the primary's: taking its own view of which
    # transactions are this database's, the empty page settled past the open one, and
    # its event, committed later, fell behind every reader that went on from there.
    assert empty.events == []
    assert [e.type for e in late.events] == ["test.late"]


async def test_a_cursor_of_an_event_the_standby_has_not_replayed_is_not_refused_as_made_up() -> (
    None
):
    """The primary handed out the event's cursor; a standby behind it cannot see the
    event yet, nor tell a made-up position from it (`events.check_issued`): it refuses
    neither, and the primary refuses the made-up one."""
    async with primary_and_standby() as (primary, standby):
        writer, reader = await db.connect(primary), await db.connect(standby.dsn)
        try:
            await events.enqueue(writer, "test.before", None, {})
            await standby.caught_up(primary)
            await standby.pause()
            await events.enqueue(writer, "test.late", None, {})
            [*_, late] = await events.read_feed(writer, START, 10, EVERYTHING)
            await events.check_issued(reader, late.cursor)  # raises if refused
            made_up = events.Cursor(late.cursor.txid, late.cursor.id + 1)
            await events.check_issued(reader, made_up)
            with pytest.raises(events.InvalidCursor, match="not a position"):
                await events.check_issued(writer, made_up)
            await standby.resume()
        finally:
            await writer.close()
            await reader.close()
