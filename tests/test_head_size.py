"""A request's head is bounded in size by the server's protocol: headers sent without end
are answered 431 and the connection closed as soon as the bound is passed, rather than
kept in memory until they end. Over real TCP connections to uvicorn serving with the
service's protocol."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator

import pytest
from starlette.types import Receive, Scope, Send

from benefitgate.http_protocol import MAX_HEADER_BYTES, REQUEST_LINE_BYTES
from tests.fixtures.live import serve_in_process

HEAD_BOUND = MAX_HEADER_BYTES + REQUEST_LINE_BYTES
ENDLESS = 64 * 2**20  # what a client sends when nothing stops it


async def _ok(scope: Scope, receive: Receive, send: Send) -> None:
    while (await receive()).get("more_body"):
        pass
    length = [(b"content-length", b"2")]
    await send({"type": "http.response.start", "status": 200, "headers": length})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture
async def port() -> AsyncIterator[int]:
    async with serve_in_process(_ok, lifespan="off") as served:
        yield served


def _send_until_stopped(port: int, first: bytes, piece: bytes) -> tuple[int, bytes]:
    """Send `first`, then `piece` again and again until ENDLESS bytes or the server stops
    the connection; return how many bytes went and the answer read."""
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.sendall(first)
        sent = len(first)
        try:
            while sent < ENDLESS:
                client.sendall(piece)
                sent += len(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass
        client.settimeout(5)
        try:
            answer = client.recv(4096)
        except ConnectionResetError:
            answer = b""  # the answer was lost with the reset: checked by its absence below
        return sent, answer


def _refused(answer: bytes) -> dict[str, object]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431"), answer[:200]
    assert b"connection: close" in head
    error: dict[str, object] = json.loads(body)["errors"][0]
    return error


@pytest.mark.parametrize(
    "piece",
    [b"X-Fill: " + b"a" * 8000 + b"\r\n", b"a" * 8192],
    ids=["headers without end", "one header value without end"],
)
async def test_a_head_without_end_is_refused_once_past_its_bound(port: int, piece: bytes) -> None:
    first = b"GET /x HTTP/1.1\r\nHost: t\r\n" + (b"" if b"X-Fill" in piece else b"X-Huge: ")
    sent, answer = await asyncio.to_thread(_send_until_stopped, port, first, piece)

    assert sent < ENDLESS  # the server stopped reading long before the client stopped
    error = _refused(answer)
    assert error["extensions"] == {"code": "HEADERS_TOO_LARGE"}
    assert f"above {MAX_HEADER_BYTES} bytes" in str(error["message"])


async def _answers(port: int, writes: list[bytes], count: int) -> list[bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for data in writes:
        writer.write(data)
        await writer.drain()
        await asyncio.sleep(0.01)  # each write a read of its own on the server
    heads = []
    for _ in range(count):
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        heads.append(head.split(b"\r\n")[0])
        await reader.readexactly(2)  # "ok"
    writer.close()
    return heads


async def test_a_head_within_its_bound_arriving_in_many_reads_is_served(port: int) -> None:
    line = b"GET /" + b"q" * (REQUEST_LINE_BYTES - 2_000) + b" HTTP/1.1\r\n"
    headers = b"".join(b"X-%05d: %s\r\n" % (n, b"v" * 90) for n in range(160))  # ~16 KB
    head = line + b"Host: t\r\n" + headers + b"\r\n"
    assert len(head) < HEAD_BOUND
    writes = [head[i : i + 4096] for i in range(0, len(head), 4096)]

    assert await _answers(port, writes, 1) == [b"HTTP/1.1 200 OK"]


async def test_many_requests_in_one_write_are_not_one_long_head(port: int) -> None:
    # 4,000 pipelined requests: several times the bound in one write, each head small.
    request = b"GET /x HTTP/1.1\r\nHost: t\r\nX-Pad: " + b"p" * 40 + b"\r\n\r\n"
    burst = request * 4_000
    assert len(burst) > 3 * HEAD_BOUND

    heads = await _answers(port, [burst], 4_000)
    assert set(heads) == {b"HTTP/1.1 200 OK"}


async def test_the_bound_follows_the_header_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BENEFITGATE_MAX_HEADER_BYTES", "1000")
    async with serve_in_process(_ok, lifespan="off") as port:
        piece = b"X-Fill: " + b"a" * 1000 + b"\r\n"
        first = b"GET /x HTTP/1.1\r\nHost: t\r\n"
        sent, answer = await asyncio.to_thread(_send_until_stopped, port, first, piece)
    error = _refused(answer)
    assert "above 1000 bytes" in str(error["message"])
    assert sent < ENDLESS
