"""Guards on WebSocket connections, around the view (which checks their `Origin` itself,
with strawberry's `allowed_origins`):

- **Frame size**: a message above the HTTP body limit closes the connection with 1009
  (message too big), as uvicorn's own `ws_max_size` does under `benefitgate serve`.
- **Message rate**: a connection that sends more messages than its quota allows closes
  with 1008 (policy violation), the reason naming the quota.

A closed connection is reported to the view as a disconnect, and whatever it still sends
is dropped.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from benefitgate.clock import Clock
from benefitgate.config import Quota
from benefitgate.limits.buckets import LocalBuckets

__all__ = ["MESSAGE_TOO_BIG", "POLICY_VIOLATION", "WebSocketGuard", "refuse_upgrade"]

MESSAGE_TOO_BIG = 1009
POLICY_VIOLATION = 1008


async def refuse_upgrade(scope: Scope, receive: Receive, send: Send, response: Response) -> None:
    """Refuse a WebSocket upgrade before accepting it: with `response` where the server
    can send one (ASGI's denial response extension), else with the 403 a server answers
    a close before accept with."""
    websocket = WebSocket(scope, receive, send)
    await websocket.receive()  # websocket.connect
    if "websocket.http.response" in scope.get("extensions", {}):
        await websocket.send_denial_response(response)
    else:
        await websocket.close(POLICY_VIOLATION)


def _size(message: Message) -> int:
    text = message.get("text")
    if text is not None:
        return len(text.encode("utf-8", "surrogatepass"))
    return len(message.get("bytes") or b"")


class WebSocketGuard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        quota: Quota | None,
        clock: Clock,
    ) -> None:
        self.app = app
        self._max_bytes = max_bytes
        self._quota = quota
        self._clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        await self._guarded(scope, receive, send)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        closed = False
        buckets = LocalBuckets(max_buckets=1)  # this connection's own

        async def close(code: int, reason: str) -> Message:
            nonlocal closed
            closed = True
            await send({"type": "websocket.close", "code": code, "reason": reason})
            return {"type": "websocket.disconnect", "code": code, "reason": reason}

        async def guarded_receive() -> Message:
            message = await receive()
            if message["type"] != "websocket.receive" or closed:
                return message
            if _size(message) > self._max_bytes:
                return await close(MESSAGE_TOO_BIG, f"message above {self._max_bytes} bytes")
            quota = self._quota
            if quota is not None:
                now = self._clock.now().timestamp()
                if not buckets.take("messages", quota, now).allowed:
                    reason = f"more than {quota.requests} messages in {quota.seconds} s"
                    return await close(POLICY_VIOLATION, reason)
            return message

        async def guarded_send(message: Message) -> None:
            if not closed:
                await send(message)

        await self.app(scope, guarded_receive, guarded_send)
