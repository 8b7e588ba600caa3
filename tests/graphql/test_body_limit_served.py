"""The body limit over real TCP connections to the service's own protocol, which marks a
body that came whole with its head: one with a `Content-Length` is then passed to the view
unwrapped, one chunked is still counted as it is read. Either way, the limit is exact."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from tests.conftest import ServeLive, api_key

LIMIT = 200


def _body(size: int) -> bytes:
    """A GraphQL request of exactly `size` bytes."""
    start, end = b'{"query": "{ __typename }"', b"}"
    return start + b" " * (size - len(start) - len(end)) + end


def _request(key: str, body: bytes, *, chunked: bool) -> bytes:
    framing = "transfer-encoding: chunked" if chunked else f"content-length: {len(body)}"
    head = (
        f"POST /graphql HTTP/1.1\r\nhost: t\r\nauthorization: Bearer {key}\r\n"
        f"content-type: application/json\r\n{framing}\r\n\r\n"
    ).encode()
    if not chunked:
        return head + body
    half = len(body) // 2
    parts = (body[:half], body[half:], b"")
    return head + b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_body_whole_with_its_head_is_held_to_the_limit_exactly(
    conn: asyncpg.Connection, serve_live: ServeLive, chunked: bool
) -> None:
    key = await api_key(conn)
    async with serve_live(max_body_bytes=LIMIT) as port:
        for size, status in ((LIMIT, b"200"), (LIMIT + 1, b"413"), (LIMIT - 1, b"200")):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(_request(key, _body(size), chunked=chunked))  # in one segment
            line = await asyncio.wait_for(reader.readline(), 10)
            writer.close()
            assert line.split()[1] == status, (size, line)


AMBIGUOUS = {
    "content-length and chunked": "content-length: 5\r\ntransfer-encoding: chunked",
    "chunked and content-length": "transfer-encoding: chunked\r\ncontent-length: 5",
    "two lengths": "content-length: 5\r\ncontent-length: 250",
    "two equal lengths": "content-length: 5\r\ncontent-length: 5",
    "a list of lengths": "content-length: 5, 250",
    "a signed length": "content-length: +5",
}


@pytest.mark.parametrize("framing", AMBIGUOUS.values(), ids=AMBIGUOUS.keys())
async def test_a_body_framed_ambiguously_never_reaches_the_app(
    conn: asyncpg.Connection, serve_live: ServeLive, framing: str
) -> None:
    """The app takes a whole body with a stated length as the parser framed it (exactly
    that length): a head whose framing could be read two ways is refused before it."""
    key = await api_key(conn)
    body = _body(LIMIT + 50)
    chunk = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    head = (
        f"POST /graphql HTTP/1.1\r\nhost: t\r\nauthorization: Bearer {key}\r\n"
        f"content-type: application/json\r\n{framing}\r\n\r\n"
    ).encode()
    async with serve_live(max_body_bytes=LIMIT) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(head + (chunk if "chunked" in framing else body))
        answer = await asyncio.wait_for(reader.read(), 10)  # and the connection closed
        writer.close()
    assert answer.startswith(b"HTTP/1.1 400"), answer
    assert b'"extensions":{"code":"BAD_REQUEST"}' in answer  # the service's error shape


async def test_a_request_the_parser_refuses_behind_another_lets_that_one_be_answered(
    conn: asyncpg.Connection, serve_live: ServeLive
) -> None:
    """Bytes that are no request, pipelined after one being answered: that one's answer
    is sent whole, then the connection closed (it was cut off by the refusal)."""
    key = await api_key(conn)
    async with serve_live(max_body_bytes=LIMIT) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(_request(key, _body(LIMIT), chunked=False) + b"NOT HTTP AT ALL\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()
    assert answer.startswith(b"HTTP/1.1 200"), answer
    assert answer.endswith(b'{"data":{"__typename":"Query"}}'), answer


async def test_a_length_with_whitespace_after_it_is_read_as_that_length(
    conn: asyncpg.Connection, serve_live: ServeLive
) -> None:
    """Whitespace after a field's value is not part of it (RFC 9110, 5.5); the parser
    passes it on, and the edge read `content-length: 100 ` as no number at all: 413
    for a body half the limit."""
    key = await api_key(conn)
    body = _body(LIMIT // 2)
    async with serve_live(max_body_bytes=LIMIT) as port:
        for framing, status in ((f"{len(body)} ", b"200"), (f"{LIMIT + 1}\t", b"413")):
            head = (
                f"POST /graphql HTTP/1.1\r\nhost: t\r\nauthorization: Bearer {key}\r\n"
                f"content-type: application/json\r\ncontent-length: {framing}\r\n\r\n"
            ).encode()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(head + (body if status == b"200" else b""))
            line = await asyncio.wait_for(reader.readline(), 10)
            writer.close()
            assert line.split()[1] == status, (framing, line)


@pytest.mark.parametrize(
    "codings",
    [["gzip, chunked"], ["gzip", "chunked"], ["deflate,chunked"], ["x-custom, chunked"]],
    ids=["gzip-chunked", "two-fields", "deflate-chunked", "unknown"],
)
async def test_a_body_in_a_transfer_coding_besides_chunked_is_refused_501(
    conn: asyncpg.Connection, serve_live: ServeLive, codings: list[str]
) -> None:
    """The parser reads `gzip, chunked` as chunked alone, the body as plain: a proxy in
    front may read it otherwise. Every field counts, as they make one list."""
    key = await api_key(conn)
    body = _body(100)
    fields = "".join(f"transfer-encoding: {coding}\r\n" for coding in codings)
    head = (
        f"POST /graphql HTTP/1.1\r\nhost: t\r\nauthorization: Bearer {key}\r\n"
        f"content-type: application/json\r\n{fields}\r\n"
    ).encode()
    async with serve_live(max_body_bytes=LIMIT) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(head + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
        answer = await asyncio.wait_for(reader.readuntil(b"}]}"), 10)
        writer.close()
    assert answer.startswith(b"HTTP/1.1 501"), answer
    assert b'"code":"NOT_IMPLEMENTED"' in answer
