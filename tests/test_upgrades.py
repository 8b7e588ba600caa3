"""Requests asking to change protocols, over real TCP connections to uvicorn serving with
the service's HTTP and WebSocket protocols: an upgrade the server does not make is ignored
and the request read whole as plain HTTP/1.1 (RFC 9110, 7.8), and a WebSocket handshake
the WebSocket library cannot read is answered in the JSON error shape, not left hanging."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator

import pytest
from starlette.types import Receive, Scope, Send

from tests.fixtures.live import serve_in_process

MANY_HEADERS = b"".join(b"X-%d: v\r\n" % n for n in range(130))
KEY = b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
WEBSOCKET = b"GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" + KEY


class Echo:
    """Answers each HTTP request with its body, recording its headers; accepts WebSockets."""

    def __init__(self) -> None:
        self.headers: list[dict[bytes, bytes]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close"})
            return
        self.headers.append(dict(scope["headers"]))
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        length = [(b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": length})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture
async def served() -> AsyncIterator[tuple[int, Echo]]:
    echo = Echo()
    async with serve_in_process(echo, lifespan="off") as port:
        yield port, echo


async def _responses(port: int, raw: bytes, count: int) -> list[tuple[bytes, bytes]]:
    """Send `raw` on one connection and read `count` responses: (head, body) each."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    answered = []
    for _ in range(count):
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        answered.append((head, await asyncio.wait_for(reader.readexactly(length), 5)))
    writer.close()
    return answered


async def _closed_with(port: int, raw: bytes) -> tuple[int, dict[str, object]]:
    """Send `raw`, read to the end of the stream: the status and the JSON error body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    answer = await asyncio.wait_for(reader.read(), 5)  # the server closes the connection
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"connection: close" in head.lower()
    return int(head.split(b" ")[1]), json.loads(body)


async def test_a_post_asking_for_h2c_is_read_whole_and_a_request_behind_it_answered(
    served: tuple[int, Echo],
) -> None:
    port, echo = served
    h2c = (
        b"POST /x HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
        b"HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nX-Empty:\r\nContent-Length: 5\r\n\r\nhello"
    )
    behind = b"POST /y HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\nbehind"

    answered = await _responses(port, h2c + behind, 2)

    assert [body for _, body in answered] == [b"hello", b"behind"]
    assert all(head.startswith(b"HTTP/1.1 200") for head, _ in answered)
    # The app sees the request without the upgrade, every other field as it came.
    assert echo.headers[0] == {b"host": b"t", b"x-empty": b"", b"content-length": b"5"}


async def test_a_chunked_body_asking_for_an_upgrade_keeps_its_connection_open(
    served: tuple[int, Echo],
) -> None:
    port, echo = served
    chunked = (
        b"POST /x HTTP/1.1\r\nHost: t\r\nConnection: keep-alive, Upgrade\r\nUpgrade: h2c\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1\r\n!\r\n0\r\n\r\n"
    )
    again = b"GET /z HTTP/1.1\r\nHost: t\r\n\r\n"

    answered = await _responses(port, chunked + again, 2)

    assert [body for _, body in answered] == [b"hello!", b""]
    assert echo.headers[0][b"connection"] == b"keep-alive"


async def test_curl_asking_for_http2_over_plain_http_has_its_body_read(
    served: tuple[int, Echo],
) -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed (apt-get install curl)")
    port, echo = served
    process = await asyncio.create_subprocess_exec(
        curl, "-s", "--http2", "-d", "hello", f"http://127.0.0.1:{port}/x",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), 10)

    assert out == b"hello"
    # curl asked for h2c (Connection: Upgrade, HTTP2-Settings), which the app never sees.
    assert not {b"upgrade", b"http2-settings", b"connection"} & echo.headers[0].keys()


async def test_connect_is_refused_in_the_json_shape(served: tuple[int, Echo]) -> None:
    port, _ = served
    status, body = await _closed_with(port, b"CONNECT a.example:443 HTTP/1.1\r\nHost: a\r\n\r\n")
    assert status == 400
    assert body["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}  # type: ignore[index]


@pytest.mark.parametrize(
    ("extra", "status", "code", "says"),
    [
        (b"Content-Length: 5\r\n\r\nhello", 400, "BAD_REQUEST", "unsupported request body"),
        (b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "BAD_REQUEST", "transfer coding"),
        (MANY_HEADERS + b"\r\n", 431, "HEADERS_TOO_LARGE", "128"),
        (b"X-Long: " + b"a" * 9000 + b"\r\n\r\n", 431, "HEADERS_TOO_LARGE", "8192"),
    ],
    ids=["a body", "a chunked body", "too many headers", "a header line too long"],
)
async def test_a_websocket_handshake_the_library_cannot_read_is_answered_not_left_open(
    served: tuple[int, Echo], extra: bytes, status: int, code: str, says: str
) -> None:
    port, _ = served
    answered, body = await _closed_with(port, WEBSOCKET + extra)
    assert answered == status
    error = body["errors"][0]  # type: ignore[index]
    assert error["extensions"] == {"code": code}
    assert says in error["message"]


async def test_a_websocket_handshake_it_can_read_still_switches_protocols(
    served: tuple[int, Echo],
) -> None:
    port, _ = served
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(WEBSOCKET + b"\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    writer.close()
    assert head.startswith(b"HTTP/1.1 101")
