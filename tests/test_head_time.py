"""A request's head has its time to arrive (`BENEFITGATE_HEAD_SECONDS`): a connection that
sends nothing, or headers a byte at a time, is answered 408 and closed, instead of being
held for ever. Over real TCP connections to uvicorn serving with the service's protocol."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.fixtures.live import serve_in_process

SECONDS = 0.6
REQUEST = b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n"


def _ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


@pytest.fixture
async def port(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[int]:
    monkeypatch.setenv("BENEFITGATE_HEAD_SECONDS", str(SECONDS))
    app = Starlette(routes=[Route("/x", _ok)])
    async with serve_in_process(app, lifespan="off") as served:
        yield served


async def _until_closed(reader: asyncio.StreamReader) -> tuple[bytes, float]:
    """What the server sent until it closed the connection, and when it closed it."""
    received = await asyncio.wait_for(reader.read(), 5)
    return received, time.monotonic()


def _is_timeout(received: bytes) -> bool:
    head, _, body = received.partition(b"\r\n\r\n")
    answer = json.loads(body)
    assert answer["errors"][0]["extensions"]["code"] == "REQUEST_TIMEOUT", answer
    return head.startswith(b"HTTP/1.1 408 ") and b"connection: close" in head


async def test_a_connection_that_sends_nothing_is_answered_408_and_closed(port: int) -> None:
    opened = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    received, closed = await _until_closed(reader)
    writer.close()
    assert _is_timeout(received)
    # Ended at the end of the tick its time fell in: at most a tenth late.
    assert SECONDS <= closed - opened <= SECONDS * 1.1 + 0.5


async def test_headers_sent_a_byte_at_a_time_are_answered_408_once_their_time_is_up(
    port: int,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    trickle = b"GET /x HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"a" * 100

    async def send_slowly() -> None:
        for byte in trickle:  # each byte resets no timer
            writer.write(bytes([byte]))
            await asyncio.sleep(0.02)

    sending = asyncio.create_task(send_slowly())
    received, _ = await _until_closed(reader)
    sending.cancel()
    writer.close()
    assert _is_timeout(received)


async def test_a_head_in_time_is_answered_and_the_next_request_has_its_own_time(
    port: int,
) -> None:
    """Kept alive: each request's head is timed from its own first byte, so requests well
    apart, each in time, are all answered on one connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answers = []
    for _ in range(3):
        writer.write(REQUEST[:10])
        await asyncio.sleep(SECONDS / 2)
        writer.write(REQUEST[10:])
        answers.append(await asyncio.wait_for(reader.readuntil(b"ok"), 5))
        await asyncio.sleep(SECONDS / 2)
    writer.close()
    assert all(a.startswith(b"HTTP/1.1 200 ") for a in answers)


async def test_a_request_being_answered_is_not_cut_by_the_head_time(port: int) -> None:
    """The time covers the head only: once it is whole the connection is the app's."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await asyncio.sleep(SECONDS / 2)
    writer.write(REQUEST)
    answer = await asyncio.wait_for(reader.readuntil(b"ok"), 5)
    await asyncio.sleep(SECONDS * 1.5)  # past the first head's time, with no request begun
    writer.write(REQUEST)
    again = await asyncio.wait_for(reader.readuntil(b"ok"), 5)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 200 ") and again.startswith(b"HTTP/1.1 200 ")
