"""The server's writes: what one turn of the event loop writes reaches the socket in one
system call, a large body as it goes, and nothing is lost at a close or written after an
abort. Over a real TCP connection, counting the writes its transport makes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from benefitgate.http_protocol import WRITE_AT_ONCE, JoinedWrites


@dataclass
class Link:
    joined: JoinedWrites
    writes: list[int]  # the sizes of the socket transport's own writes
    peer: asyncio.StreamReader


@pytest.fixture
async def link() -> AsyncIterator[Link]:
    accepted: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accepted.put((reader, writer))

    server = await asyncio.start_server(on_client, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport, _ = await asyncio.get_running_loop().create_connection(
        asyncio.Protocol, "127.0.0.1", port
    )
    writes: list[int] = []
    real_write = transport.write

    def counted(data: bytes | bytearray | memoryview) -> None:
        writes.append(len(data))
        real_write(data)

    transport.write = counted  # type: ignore[method-assign]
    reader, writer = await accepted.get()
    yield Link(JoinedWrites(transport), writes, reader)
    transport.abort()
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()


async def test_a_head_and_body_written_in_one_turn_leave_in_one_write(link: Link) -> None:
    head, body = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n", b"hello"
    link.joined.write(head)
    link.joined.write(body)
    assert link.writes == []  # held to the end of the turn

    assert await link.peer.readexactly(len(head + body)) == head + body
    assert link.writes == [len(head + body)]


async def test_a_large_body_is_written_as_it_goes(link: Link) -> None:
    chunk = b"x" * (WRITE_AT_ONCE // 4)
    for _ in range(12):
        link.joined.write(chunk)
    assert len(link.writes) == 3  # every WRITE_AT_ONCE bytes, within the turn

    assert await link.peer.readexactly(12 * len(chunk)) == 12 * chunk
    assert sum(link.writes) == 12 * len(chunk)


async def test_a_close_writes_what_is_held_first(link: Link) -> None:
    link.joined.write(b"last words")
    link.joined.close()

    assert await link.peer.read() == b"last words"  # then the end of the stream


async def test_an_abort_drops_what_is_held_and_a_later_turn_writes_nothing(link: Link) -> None:
    link.joined.write(b"never sent")
    link.joined.abort()
    await asyncio.sleep(0.01)  # the turn's end came and went

    assert link.writes == []
    assert await link.peer.read() == b""


async def test_a_flush_after_the_transport_closed_is_dropped(link: Link) -> None:
    link.joined.write(b"too late")
    link.joined.transport.close()  # as when the client went away within the turn
    await asyncio.sleep(0.01)

    assert link.writes == []
