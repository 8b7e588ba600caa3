"""The server's WebSocket protocol: uvicorn's own, with a bound on how long a closing
connection may wait for a client that stopped reading.

On SIGTERM uvicorn sends each WebSocket its close frame (1012) and closes the transport,
which first writes out whatever is buffered. A client that stopped reading (a frozen tab,
a process stopped in a debugger) never takes it, so the connection never ended and
uvicorn waited for it until its graceful timeout: the replica's shutdown hang with a live
stream open. Such a connection is cut STALLED_SECONDS after the close frame; its client
resumes from its cursor, on this replica or another, like any other.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

__all__ = ["STALLED_SECONDS", "WebSocketProtocol"]

STALLED_SECONDS = 2.0


class WebSocketProtocol(WebSocketsSansIOProtocol):
    def shutdown(self) -> None:
        super().shutdown()
        asyncio.get_running_loop().call_later(STALLED_SECONDS, self._cut_if_stalled)

    def _cut_if_stalled(self) -> None:
        """Whatever is still buffered now, the client is not reading: drop the connection
        without writing it (a no-op when it has closed meanwhile)."""
        if self.transport.get_write_buffer_size():
            self.transport.abort()
