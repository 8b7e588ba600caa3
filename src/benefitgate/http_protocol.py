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
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["WRITE_AT_ONCE", "HttpProtocol", "JoinedWrites"]

WRITE_AT_ONCE = 64 * 1024


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


class HttpProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(JoinedWrites(transport))  # type: ignore[arg-type]

    def handle_websocket_upgrade(self) -> None:
        joined: JoinedWrites = self.transport  # type: ignore[assignment]
        joined.flush()
        self.transport = joined.transport
        super().handle_websocket_upgrade()
