"""A WebSocket's credential is checked at `connection_init` and again at every `subscribe`:
a key revoked or a token expired since the connection opened starts nothing more."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import asyncpg
import httpx
import pytest

from benefitgate.auth import apikeys
from benefitgate.clock import FixedClock
from benefitgate.events import outbox as events
from benefitgate.events.outbox import START
from tests.conftest import api_key, frontend_token
from tests.fixtures.live import EVENTS, raw_socket

REPLAY = {
    "id": "2",
    "type": "subscribe",
    "payload": {"query": EVENTS, "variables": {"after": START.encode()}},
}


async def _refused_over_http(port: int, key: str) -> None:
    """Wait until the server has heard of the key's revocation (its cache forgets it)."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        for _ in range(100):
            response = await http.post(
                "/graphql",
                json={"query": "{ __typename }"},
                headers={"authorization": f"Bearer {key}"},
            )
            if response.status_code == 401:
                return
            await asyncio.sleep(0.05)
    pytest.fail("the revocation never reached the server")


async def test_a_key_revoked_after_connection_init_can_subscribe_no_more(
    conn: asyncpg.Connection, live_port: int
) -> None:
    # The socket kept the principal of its connection_init: a subscribe after the revocation
    # replayed the outbox and went live, however long after.
    key = await api_key(conn)
    await events.enqueue(conn, "test.before", None, {})
    async with raw_socket(live_port) as ws:
        assert await ws.init(key) == {"type": "connection_ack"}
        await apikeys.revoke_key(conn, key.split("_")[1])
        await _refused_over_http(live_port, key)
        await ws.send(REPLAY)
        code = await ws.closed_with()
        reason = ws.ws.close_reason

    assert (code, reason) == (4403, "Forbidden: revoked API key")


async def test_a_token_expired_after_connection_init_can_subscribe_no_more(
    conn: asyncpg.Connection, live_port: int, clock: FixedClock
) -> None:
    token = frontend_token(uuid.uuid4(), ttl=timedelta(seconds=4))
    async with raw_socket(live_port) as ws:
        assert await ws.init(token) == {"type": "connection_ack"}
        clock.advance(timedelta(seconds=6))
        await ws.send(REPLAY)
        code = await ws.closed_with()
        reason = ws.ws.close_reason

    assert (code, reason) == (4403, "Forbidden: token expired")


async def test_a_credential_still_valid_subscribes_again_and_again(
    conn: asyncpg.Connection, live_port: int, clock: FixedClock
) -> None:
    token = frontend_token(uuid.uuid4(), ttl=timedelta(seconds=10))
    await events.enqueue(conn, "test.before", None, {})
    async with raw_socket(live_port) as ws:
        assert await ws.init(token) == {"type": "connection_ack"}
        clock.advance(timedelta(seconds=9))
        await ws.send(REPLAY)
        first = await ws.receive()
        await ws.send({**REPLAY, "id": "3"})
        second = await ws.receive()

    assert (first["id"], first["type"]) == ("2", "next")
    assert (second["id"], second["type"]) == ("3", "next")


async def test_a_quiet_stream_ends_when_its_token_expires(
    conn: asyncpg.Connection, live_port: int, clock: FixedClock
) -> None:
    # Expiry was checked only as the hub published a batch: a stream that heard nothing
    # stayed open past its token, for as long as no event came.
    token = frontend_token(uuid.uuid4(), ttl=timedelta(minutes=10))
    live = {"query": EVENTS, "variables": {}}
    async with raw_socket(live_port) as ws:
        assert await ws.init(token) == {"type": "connection_ack"}
        await ws.send({"id": "1", "type": "subscribe", "payload": live})
        await asyncio.sleep(0.3)  # joined the hub
        clock.advance(timedelta(minutes=10))
        closed = await ws.receive()

    member = closed["payload"]["data"]["events"]
    assert (closed["id"], member["__typename"]) == ("1", "StreamClosedError")
    assert (member["code"], member["retryable"]) == ("CREDENTIAL_EXPIRED", False)
