"""The server's HTTP protocol: uvicorn's httptools protocol, writing each response's head
and body to the socket together.

uvicorn writes the status line and headers when the app sends `http.response.start`, and
the body when it sends `http.response.body`: two `send` system calls and two TCP segments
for every response, each waking the client. A bare app answering a check-sized body took
12 to 18 % less CPU a request with the writes joined, and answered 13 to 21 % more
requests a second on a quiet machine (`bench/joined_writes.py`; its figures are in
bench/README.md, with the checks').

What the protocol writes during one turn of the event loop is joined and written at the
end of that turn. More than WRITE_AT_ONCE bytes are written at once, so that the socket's
own buffer, and uvicorn's flow control over it, see a large body as they always did. A
WebSocket upgrade hands the socket itself to the WebSocket protocol, which writes frames
as they come.

A request's head (its request line and headers) has BENEFITGATE_HEAD_SECONDS (10; 0: no
limit) to arrive whole, from the connection's opening or, on a kept-alive connection, from
the request's first byte. uvicorn waits for a head as long as the connection is open: a
client that opened connections and sent nothing, or headers a byte at a time, held them for
ever. Such a connection is answered 408 and closed. The connections share their timers, as
the bodies' clock does (`graphql/body_clock.py`): a head's time ends at the end of the tick
it falls in, a tenth of the time allowed.

A head is bounded in size as well: BENEFITGATE_MAX_HEADER_BYTES (the edge's limit on the
headers, 16 KiB) and REQUEST_LINE_BYTES for the request line, whose target carries a GET's
document. uvicorn kept every header it read, however many, so one client sending headers
without end could take the process's memory (four connections, 200 MB each, took 850 MB);
the edge's 431 came only once they were all read. A head past the bound is answered 431
and its connection closed as soon as it is seen, the rest unread.

Bytes the parser refuses are answered 400 in the service's JSON error shape, where uvicorn
answered in plain text and cut off the answer to a request pipelined before them.

Upgrades. A request asking to upgrade to anything but a WebSocket (`curl --http2` asks
every `http://` request to become h2c) is read as the plain HTTP/1.1 request it also is
(RFC 9110, 7.8: a server may ignore an Upgrade). The parser stops at such a request's head
and reads no body, and uvicorn then ran the app with an empty body and dropped the bytes
after the head: the body, and any request pipelined behind it. A WebSocket handshake that
the WebSocket library cannot read (it has a body, or a header line past its limits) is
answered in the JSON error shape: the library queued no answer, and the connection hung.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from websockets.exceptions import HeaderLineTooLong, TooManyHeaders

__all__ = [
    "BODY_WHOLE",
    "HEAD_TICKS",
    "MAX_HEADER_BYTES",
    "REQUEST_LINE_BYTES",
    "WRITE_AT_ONCE",
    "HeadClock",
    "HttpProtocol",
    "JoinedWrites",
]

WRITE_AT_ONCE = 64 * 1024
# Set (True) in a request's scope once its body has arrived whole: the app then needs no
# timer for the body's arrival (`graphql.body_clock`), which nearly every request, its body
# in the segments that brought its head, would otherwise start and stop.
BODY_WHOLE = "benefitgate.body_whole"
HEAD_TICKS = 10  # a head's time is ended in ticks of this fraction of it
MAX_HEADER_BYTES = 16_384  # BENEFITGATE_MAX_HEADER_BYTES unset: names and values together
REQUEST_LINE_BYTES = 65_536  # what a head may hold beyond its headers: mostly the target
# What a request read again without its upgrade leaves out of its head.
_UPGRADE_FIELDS = frozenset((b"upgrade", b"http2-settings"))


class JoinedWrites:
    """A transport whose writes during one turn of the event loop reach the socket as one."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self._pending: list[bytes] = []
        self._size = 0

    def write(self, data: bytes) -> None:
        if not self._pending:
            asyncio.get_running_loop().call_soon(self.flush)
        self._pending.append(data)
        self._size += len(data)
        if self._size >= WRITE_AT_ONCE:
            self.flush()

    def writelines(self, lines: list[bytes]) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending, self._size = [], 0
        if not self.transport.is_closing():  # the client went away meanwhile
            self.transport.write(data)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def write_eof(self) -> None:
        self.flush()
        self.transport.write_eof()

    def abort(self) -> None:
        self._pending, self._size = [], 0
        self.transport.abort()

    def get_write_buffer_size(self) -> int:
        return self._size + self.transport.get_write_buffer_size()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)  # reading, flow control, extra info


class HeadClock:
    """The ticks of one event loop, each with the connections whose head's time ends in it."""

    def __init__(self, loop: asyncio.AbstractEventLoop, seconds: float) -> None:
        self.loop, self.seconds = loop, seconds
        self._length = seconds / HEAD_TICKS
        self._ticks: dict[int, set[HttpProtocol]] = {}

    def start(self, protocol: HttpProtocol) -> set[HttpProtocol]:
        """The waiting connections of the tick `protocol`'s head time ends in, with it."""
        at = math.ceil((self.loop.time() + self.seconds) / self._length)
        waiting = self._ticks.get(at)
        if waiting is None:
            waiting = self._ticks[at] = set()
            self.loop.call_at(at * self._length, self._end, at)
        waiting.add(protocol)
        return waiting

    def _end(self, at: int) -> None:
        for protocol in self._ticks.pop(at, ()):
            protocol.head_too_slow()


_clocks: dict[tuple[asyncio.AbstractEventLoop, float], HeadClock] = {}


def _head_clock(loop: asyncio.AbstractEventLoop) -> HeadClock | None:
    """The clock of heads for a new connection on `loop`, by the setting as it is now
    (None: no limit). Read per connection, not per process: a server started later in the
    same process (tests) may set another."""
    seconds = float(os.environ.get("BENEFITGATE_HEAD_SECONDS") or 10)
    if seconds <= 0:
        return None
    clock = _clocks.get((loop, seconds))
    if clock is None:
        if any(held is not loop for held, _ in _clocks):
            _clocks.clear()  # a process serves on one loop at a time
        clock = _clocks[loop, seconds] = HeadClock(loop, seconds)
    return clock


def _head_limit() -> int:
    """The bytes a head may take, by the setting as it is now (read per connection, as the
    clock of heads is)."""
    headers = int(os.environ.get("BENEFITGATE_MAX_HEADER_BYTES") or MAX_HEADER_BYTES)
    return headers + REQUEST_LINE_BYTES


class HttpProtocol(HttpToolsProtocol):
    _head_clock: HeadClock | None = None
    _head_waiting: set[HttpProtocol] | None = None  # while a head is awaited
    _head_limit = MAX_HEADER_BYTES + REQUEST_LINE_BYTES
    _reading_head = True  # from a message's first byte to the end of its headers
    _head_bytes = 0  # of the head being read, but for the read that began it

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(JoinedWrites(transport))  # type: ignore[arg-type]
        self._head_clock = _head_clock(self.loop)
        self._head_limit = _head_limit()
        self._await_head()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading_head, self._head_bytes = True, 0
        self._await_head()  # the first request's head is timed from the connection's opening

    def data_received(self, data: bytes) -> None:
        """uvicorn's, but an upgrade to anything but a WebSocket is read without it, and a
        head is refused once past its bound. Each read is counted against the head under
        way when it came; the read that begins a head is not, so that a read ending one
        request and beginning the next counts for neither, and a head is refused at most
        one read past the bound."""
        self._unset_keepalive_if_required()
        if self._reading_head:
            self._head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.send_400_response("Invalid HTTP request received.")
        except httptools.HttpParserUpgrade as upgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._read_without_upgrade(data[upgrade.args[0] :])
        else:
            if self._reading_head and self._head_bytes > self._head_limit:
                self._refuse_head()

    def _refuse_head(self) -> None:
        """431 and close, or, behind a response still being sent (a pipelined request),
        stop reading and close once that response ends."""
        self._head_arrived()  # its clock no longer matters
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False
            self.transport.pause_reading()
            return
        limit = self._head_limit - REQUEST_LINE_BYTES
        message = (
            f"request headers above {limit} bytes (the request line may take "
            f"{REQUEST_LINE_BYTES} more)"
        )
        self.transport.write(
            _closing_error(431, "Request Header Fields Too Large", message, "HEADERS_TOO_LARGE")
        )
        self.transport.close()

    def _ignored_upgrade(self) -> bool:
        """The request being parsed asks for an upgrade this server does not make."""
        return bool(self.parser.should_upgrade()) and not self._should_upgrade()

    def on_headers_complete(self) -> None:
        self._head_arrived()
        self._reading_head = False
        if self._ignored_upgrade():
            return  # read again without the upgrade, once the parser hands back the rest
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        if self._ignored_upgrade():
            return
        super().on_message_complete()
        if self.cycle is not None and not self.cycle.more_body:
            self.cycle.scope[BODY_WHOLE] = True  # type: ignore[literal-required]

    def _read_without_upgrade(self, rest: bytes) -> None:
        """Parse the request whose head asked for an ignored upgrade again, from a head
        without the upgrade, followed by the bytes the parser left after that head (its
        body, requests pipelined behind it), as a new parser, since it stops there."""
        method = self.parser.get_method()
        if method == b"CONNECT":  # a tunnel: always an upgrade, never plain HTTP
            self.send_400_response("CONNECT: this server opens no tunnels")
            return
        version = self.parser.get_http_version().encode()
        head = [method, b" ", self.url, b" HTTP/", version, b"\r\n"]
        for name, value in self.headers:
            if name in _UPGRADE_FIELDS:
                continue
            if name == b"connection":
                tokens = [t.strip() for t in value.split(b",")]
                value = b", ".join(t for t in tokens if t.lower() not in _UPGRADE_FIELDS)
                if not value:
                    continue
            head += [name, b": ", value, b"\r\n"]
        head.append(b"\r\n")
        self.parser = httptools.HttpRequestParser(self)
        self.parser.set_dangerous_leniencies(lenient_data_after_close=True)
        self.data_received(b"".join(head) + rest)

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_arrived()
        super().connection_lost(exc)

    def handle_websocket_upgrade(self) -> None:
        self._head_arrived()
        joined: JoinedWrites = self.transport  # type: ignore[assignment]
        joined.flush()
        self.transport = joined.transport
        super().handle_websocket_upgrade()
        upgraded: Any = self.transport.get_protocol()  # the WebSocket protocol, fed the head
        refused = upgraded.conn.handshake_exc
        if refused is not None and not upgraded.handshake_initiated:
            self.transport.write(_unread_handshake(refused))
            self.transport.close()

    def send_400_response(self, msg: str) -> None:
        """A request the parser refused (its line, its headers, or a body framed two ways):
        400 in the service's JSON error shape, where uvicorn sent plain text, and closed.
        Behind a request still being answered (pipelined after it), that answer is sent
        first, then the connection closed: uvicorn cut it off."""
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False
            return
        message = "not a valid HTTP/1.1 request: its line, headers or body framing"
        self.transport.write(_closing_error(400, "Bad Request", message, "BAD_REQUEST"))
        self.transport.close()

    def _await_head(self) -> None:
        if self._head_clock is not None and self._head_waiting is None:
            self._head_waiting = self._head_clock.start(self)

    def _head_arrived(self) -> None:
        if self._head_waiting is not None:
            self._head_waiting.discard(self)
            self._head_waiting = None

    def head_too_slow(self) -> None:
        """The head did not arrive whole in its time: 408 and close, or, behind a response
        still being sent (a pipelined request), close once that response ends."""
        self._head_waiting = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False
            return
        self.transport.write(_head_too_slow_response(self._head_clock))
        self.transport.close()


def _head_too_slow_response(clock: HeadClock | None) -> bytes:
    """408 in the service's JSON error shape (RFC 9110, 15.5.9), closing the connection."""
    seconds = 0.0 if clock is None else clock.seconds
    message = f"the request line and headers did not arrive whole within {seconds:g} seconds"
    return _closing_error(408, "Request Timeout", message, "REQUEST_TIMEOUT")


def _unread_handshake(refused: Exception) -> bytes:
    """The answer to a WebSocket handshake request the WebSocket library could not read."""
    if isinstance(refused, HeaderLineTooLong | TooManyHeaders):
        too_large = "Request Header Fields Too Large"
        return _closing_error(431, too_large, str(refused), "HEADERS_TOO_LARGE")
    reason = refused.__cause__ or refused  # what was wrong, e.g. "unsupported request body"
    message = f"not a valid WebSocket handshake request: {reason}"
    return _closing_error(400, "Bad Request", message, "BAD_REQUEST")


def _closing_error(status: int, reason: str, message: str, code: str) -> bytes:
    """A whole response in the service's JSON error shape that closes the connection."""
    error = {"message": message, "extensions": {"code": code}}
    body = json.dumps({"errors": [error]}, separators=(",", ":"))  # as the app's answers
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return (head + body).encode()
