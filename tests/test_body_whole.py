"""The server marks a request whose body has arrived whole (`http_protocol.BODY_WHOLE`),
so that the edge times only bodies still arriving. Over real TCP connections to uvicorn
serving with the service's protocol: a body sent with its head is marked by the time the
app starts; one sent later is not, and the mark comes with its last part."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from starlette.types import Receive, Scope, Send

from benefitgate.http_protocol import BODY_WHOLE
from tests.fixtures.live import serve_in_process

BODY = b'{"a": 1}'


class Recorder:
    """An app answering 204 that records the mark at its start and after reading the body."""

    def __init__(self) -> None:
        self.seen: list[tuple[object, object, bytes]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        at_start = scope.get(BODY_WHOLE)
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        self.seen.append((at_start, scope.get(BODY_WHOLE), body))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@pytest.fixture
async def served() -> AsyncIterator[tuple[int, Recorder]]:
    recorder = Recorder()
    async with serve_in_process(recorder, lifespan="off") as port:
        yield port, recorder


def _head(length: int) -> bytes:
    return f"POST /x HTTP/1.1\r\nhost: t\r\ncontent-length: {length}\r\n\r\n".encode()


async def _answered(reader: asyncio.StreamReader) -> bytes:
    return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)


async def test_a_body_sent_with_its_head_is_marked_whole_when_the_app_starts(
    served: tuple[int, Recorder],
) -> None:
    port, recorder = served
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(_head(len(BODY)) + BODY)
    assert (await _answered(reader)).startswith(b"HTTP/1.1 204")
    writer.close()
    assert recorder.seen == [(True, True, BODY)]


async def test_a_body_still_arriving_is_marked_only_once_it_has_arrived(
    served: tuple[int, Recorder],
) -> None:
    port, recorder = served
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(_head(len(BODY)) + BODY[:3])
    await writer.drain()
    await asyncio.sleep(0.2)  # the app has started and waits for the rest
    writer.write(BODY[3:])
    assert (await _answered(reader)).startswith(b"HTTP/1.1 204")
    # A second request on the connection has its own scope, marked as its body arrives.
    writer.write(_head(0))
    assert (await _answered(reader)).startswith(b"HTTP/1.1 204")
    writer.close()
    assert recorder.seen == [(None, True, BODY), (True, True, b"")]
