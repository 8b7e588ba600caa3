"""A request body has BENEFITGATE_BODY_SECONDS to arrive whole, over real TCP connections to
the app served by uvicorn: a client that sends its headers and part of its body, then
nothing, is answered 408 `REQUEST_TIMEOUT` and its connection closed (uvicorn waited for
the rest as long as the connection stayed open, holding it and a request task). A body
that arrives in its time is answered, and WebSockets are not held to it."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

import asyncpg
import httpx
import pytest

from benefitgate.config import Settings
from tests.conftest import ServeLive, api_key
from tests.fixtures.live import raw_socket

SECONDS = 0.5
QUERY = b'{"query": "{ __typename }"}'
EVENTS = b'[{"specversion": "1.0", "id": "e1", "source": "s", "type": "m0", "subject": "x"}]'


async def exchange(port: int, head: str, parts: list[bytes], pause: float = 0) -> bytes:
    """Everything the server sends back, up to its closing the connection, for `head` and
    the body `parts` written `pause` seconds apart; the connection is left open after them."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head.encode())
        for n, part in enumerate(parts):
            if n:
                await asyncio.sleep(pause)
            writer.write(part)
            await writer.drain()
        async with asyncio.timeout(10):  # far past the body time: a server that waits for ever
            return await reader.read()
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def request_head(path: str, key: str, *, length: int | None, close: bool = False) -> str:
    """A POST's head (`length` None: a chunked body); with `close`, one that asks the
    server to close the connection after its answer."""
    framing = f"content-length: {length}" if length is not None else "transfer-encoding: chunked"
    media = "application/json" if path == "/graphql" else "application/cloudevents-batch+json"
    ending = "connection: close\r\n" if close else ""
    return (
        f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {key}\r\n"
        f"content-type: {media}\r\n{ending}{framing}\r\n\r\n"
    )


def answer_of(raw: bytes) -> tuple[str, dict[str, str], dict[str, object]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status, *fields = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (f.partition(":") for f in fields)}
    return status, headers, json.loads(body)


@pytest.mark.parametrize("path", ["/graphql", "/events"])
async def test_a_body_that_stops_arriving_is_answered_408_and_the_connection_closed(
    conn: asyncpg.Connection, serve_live: ServeLive, path: str
) -> None:
    key = await api_key(conn)
    body = QUERY if path == "/graphql" else EVENTS
    async with serve_live(body_seconds=SECONDS) as port:
        answers = [
            # Part of a body of a given length, none of it, part of a chunked one.
            await exchange(port, request_head(path, key, length=len(body) + 50), [body]),
            await exchange(port, request_head(path, key, length=len(body)), []),
            await exchange(port, request_head(path, key, length=None), [b"5\r\n[{}, \r\n"]),
        ]
        async with httpx.AsyncClient() as http:  # the server goes on answering
            health = await http.get(f"http://127.0.0.1:{port}/healthz")

    for raw in answers:  # each read to its end: the server closed the connection
        status, headers, answer = answer_of(raw)
        assert status == "HTTP/1.1 408 Request Timeout", raw
        assert headers["connection"] == "close"  # unasked: the rest of the body may come
        assert headers["x-request-id"]
        assert answer == {
            "errors": [
                {
                    "message": f"the request body did not arrive whole within {SECONDS:g} seconds",
                    "extensions": {"code": "REQUEST_TIMEOUT"},
                }
            ]
        }
    assert health.status_code == 200
    assert await conn.fetchval("select count(*) from usage_event_ids") == 0


async def test_a_body_that_arrives_in_parts_within_its_time_is_answered(
    conn: asyncpg.Connection, serve_live: ServeLive
) -> None:
    key = await api_key(conn)
    async with serve_live(body_seconds=5) as port:
        head = request_head("/graphql", key, length=len(QUERY), close=True)
        raw = await exchange(port, head, [QUERY[:10], QUERY[10:]], pause=0.3)

    status, _, answer = answer_of(raw)
    assert status == "HTTP/1.1 200 OK"
    assert answer == {"data": {"__typename": "Query"}}


async def test_a_websocket_quiet_for_longer_than_the_body_time_stays_open(
    conn: asyncpg.Connection, serve_live: ServeLive
) -> None:
    key = await api_key(conn)
    async with serve_live(body_seconds=0.2) as port, raw_socket(port) as socket:
        assert await socket.init(key) == {"type": "connection_ack"}
        await asyncio.sleep(0.6)
        await socket.send({"type": "ping"})
        assert await socket.receive() == {"type": "pong"}


def test_the_body_time_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BENEFITGATE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("BENEFITGATE_BODY_SECONDS", raising=False)
    assert Settings.from_env().body_seconds == 30
    monkeypatch.setenv("BENEFITGATE_BODY_SECONDS", "2.5")
    assert Settings.from_env().body_seconds == 2.5
