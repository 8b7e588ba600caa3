"""SIGTERM ends a replica within its grace period, with live streams open: idle ones, one
in the middle of events, and one whose client stopped reading while events flow (its
socket's buffers full). Uvicorn's own graceful timeout (10 s) must not be what ends it."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

import asyncpg
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from benefitgate.events import outbox as events
from tests.conftest import JWT_SECRET, api_key
from tests.fixtures.live import CLEAN_STOP, ServiceProcess

EVENTS = "subscription { events { __typename ... on Event { id cursor payload } } }"
GRACEFUL = 10.0  # uvicorn's timeout_graceful_shutdown in `serve`


async def _subscribed(port: int, key: str) -> ClientConnection:
    ws = await connect(
        f"ws://127.0.0.1:{port}/graphql",
        subprotocols=[Subprotocol("graphql-transport-ws")],
        max_queue=1,  # a client that stops reading stops taking frames off the socket
    )
    init = {"authorization": f"Bearer {key}"}
    await ws.send(json.dumps({"type": "connection_init", "payload": init}))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": EVENTS}}))
    return ws


async def test_sigterm_ends_a_replica_with_streams_open_well_within_its_grace_period(
    dsn: str, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    key = await api_key(conn)
    replica = ServiceProcess(dsn, JWT_SECRET, tmp_path)
    await replica.start()
    sockets = [await _subscribed(replica.port, key) for _ in range(3)]
    try:
        pad = "x" * 20_000  # big frames: the stalled client's buffers fill up
        for n in range(40):
            async with conn.transaction():
                for _ in range(10):
                    await events.enqueue(conn, "test.big", None, {"n": n, "pad": pad})
        await sockets[1].recv()  # one stream is mid-flow; sockets[2] never reads
        started = time.monotonic()
        code = await replica.terminate()
        took = time.monotonic() - started
    finally:
        for ws in sockets:
            with contextlib.suppress(Exception):
                ws.transport.abort()
        await replica.stop()

    print(f"SIGTERM to exit: {took:.2f} s with three live streams, one stalled")
    assert code in CLEAN_STOP
    assert took < GRACEFUL / 2  # ended by its own shutdown, not by uvicorn's timeout
