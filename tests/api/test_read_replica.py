"""Queries on a read replica (a real streaming standby): they read the standby when it has
replayed every change the process has heard of, the primary otherwise (a write of their
own not yet looked past, a standby paused behind, or one that is down), so no answer is
older than what the process already knows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from benefitgate import db
from benefitgate.app import create_app
from benefitgate.clock import FixedClock
from benefitgate.config import Settings
from benefitgate.telemetry import metrics
from tests.conftest import api_key
from tests.fixtures import factories
from tests.fixtures.live import serve_in_process
from tests.fixtures.standby import Standby, primary_and_standby

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


async def _write_behind_the_gateways_back(primary: str, account: str, name: str) -> None:
    """A change with no event: nothing tells the gateway of it."""
    conn = await db.connect(primary)
    try:
        await conn.execute("update accounts set name = $2 where id = $1", account, name)
    finally:
        await conn.close()


async def test_queries_read_the_standby_when_it_has_replayed_what_the_gateway_heard_of(
    replicated: tuple[Gateway, str, Standby],
) -> None:
    gateway, primary, standby = replicated
    await standby.pause()
    await _write_behind_the_gateways_back(primary, gateway.account, "Unheard")
    on_replica = _reads("replica")
    paused = await gateway.view()  # the standby is as new as anything the gateway heard of
    await standby.resume()
    await standby.caught_up(primary)
    replayed = await gateway.view()

    assert paused["name"] == "Acme"  # read on the standby, which has not replayed it
    assert replayed["name"] == "Unheard"
    assert _reads("replica") - on_replica == 2


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
