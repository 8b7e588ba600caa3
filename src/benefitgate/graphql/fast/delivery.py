"""Direct delivery of live events: each `next` frame goes to the WebSocket without the
per-result pipeline of graphql-core and strawberry.

The stock path takes every event of every subscriber through graphql-core's response
stream, strawberry's per-result extension hooks, a message dict and a JSON encoding of the
whole result. An event renders the same for every subscriber of the same document (see
`render`), so here the rendering is encoded once, and a subscriber's frame is its
operation id spliced around those bytes, written by the operation's own task, in order.

Everything else stays on the stock path: parsing, validation and variables, the typed
error members that end a stream, and any event whose rendering has errors (so that they
are masked and logged as usual).

The transport also holds what the stock handler left to chance: the connection's credential
is checked again at every `subscribe` (4403 once revoked or expired), a refused credential
takes a token from its client address's bucket of bad credentials (1008 past it), and an
operation the client completed sends nothing more.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, cast

import orjson
from starlette.types import Scope
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    Message,
    SubscribeMessage,
)
from strawberry.types.execution import PreExecutionError

from benefitgate import db
from benefitgate.auth.principals import Unauthenticated
from benefitgate.feed import direct
from benefitgate.feed.types import Event
from benefitgate.graphql.persisted import DocumentRefused, TrustedDocuments
from benefitgate.graphql.shapes import message_problem
from benefitgate.graphql.unstorable import UnstorableText

if TYPE_CHECKING:
    from benefitgate.api.context import Context
    from benefitgate.auth.principals import Principal

__all__ = ["Credentials", "Delivery", "LiveTransportHandler", "SubscribeLimiter", "attach"]

# The operation's task gives the event loop a turn after this many frames. A replay page
# (500 events, rendered from cache, written to a socket with room) otherwise went out
# without one suspension: the connection's `complete`, `ping` and `subscribe` waited for it.
_FRAMES_PER_TURN = 8
FORBIDDEN = 4403  # graphql-transport-ws: the credential is refused
POLICY_VIOLATION = 1008  # RFC 6455: too many bad credentials from this address
_MAX_REASON = 123  # bytes of a close frame's reason (RFC 6455)


class Renderer(Protocol):
    async def encoded_payload(self, event: Event) -> str | None: ...


class Delivery:
    """One subscription operation's direct path to its WebSocket."""

    __slots__ = ("_operation", "_prefix", "_send_text", "_sent", "renderer")

    def __init__(self, operation: Operation[Any, Any], send_text: Callable[[str], Awaitable[None]]):
        self._operation = operation
        self._send_text = send_text
        self._prefix = f'{{"id":{orjson.dumps(operation.id).decode()},"type":"next","payload":'
        self.renderer: Renderer | None = None  # the operation's executor, once it subscribed
        self._sent = 0

    async def send(self, event: Event) -> bool:
        """Send the event's `next` frame; False when it must take the stock path instead.
        Nothing once the operation completed: its task was cancelled, and the turn taken
        here lets the cancellation land."""
        if self._operation.completed:
            await asyncio.sleep(0)
            return True
        if self.renderer is None:
            return False
        payload = await self.renderer.encoded_payload(event)
        if payload is None:
            return False
        await self._send_text(f"{self._prefix}{payload}}}")
        self._sent += 1
        if self._sent % _FRAMES_PER_TURN == 0:
            await asyncio.sleep(0)  # the connection's own messages (`complete`) go first
        return True


def attach(renderer: Renderer) -> None:
    """Called by the subscription's executor as it resolves the root field. The delivery
    is set in each operation's own task, so the resolver and the executor of that
    operation, which run in the task, find its delivery and nobody else's."""
    delivery = direct.current()
    if isinstance(delivery, Delivery) and delivery.renderer is None:
        delivery.renderer = renderer


class SubscribeLimiter(Protocol):
    async def refuse_subscribe(self, principal: Principal) -> dict[str, object] | None:
        """The GraphQL error refusing a `subscribe` by this caller now, or None."""

    async def refuse_bad_credential(self, scope: Scope) -> str | None:
        """The close reason when the client address sent too many bad credentials, or None
        (it takes a token, as a bad credential over HTTP does)."""


class Credentials(Protocol):
    async def connection_principal(self, context: Context) -> Principal:
        """The principal of the connection's credential now; raises Unauthenticated."""


class LiveTransportHandler(BaseGraphQLTransportWSHandler["Context", None]):
    """graphql-transport-ws with a direct delivery per operation. A message of the wrong
    shape closes the connection with 4400; a subscribe whose document fails to parse or
    validate gets an `error` message for its id, as the protocol asks. A credential
    refused at `connection_init`, or at a `subscribe` (revoked or expired since), closes
    it with 4403 and the reason; past the client address's bucket of bad credentials,
    with 1008 and a reason starting `RATE_LIMITED:`."""

    async def handle_invalid_message(self, error_message: str) -> None:
        # The stock handler says "WebSocket message must be valid JSON" for any message the
        # view's `decode_json` refused, valid JSON with a NUL character or nested too deep
        # among them; it calls this while handling that refusal, whose cause says why.
        cause = sys.exc_info()[1]
        cause = cause.__cause__ if cause is not None else None
        if isinstance(cause, UnstorableText):
            error_message = cause.msg
        elif isinstance(cause, json.JSONDecodeError):
            error_message = f"{error_message}: {cause.msg}"
        await super().handle_invalid_message(_close_reason(error_message))

    async def handle_message(self, message: Message) -> None:
        # The stock handler indexes into the message as it reads it: a frame that was not
        # an object, or an `id` or `payload` of the wrong type, raised and closed with 1006.
        problem = message_problem(message)
        if problem is not None:
            await self.handle_invalid_message(problem)
            return
        if "payload" in message and message.get("payload") is None:
            # The protocol allows a null payload wherever one is optional (connection_init,
            # ping, pong); the stock handler refused a null connection_init with 4400.
            message = cast("Message", {k: v for k, v in message.items() if k != "payload"})
        await super().handle_message(message)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        """A subscribe may name a trusted document by id, as an HTTP request may; a
        document the caller may not send gets an `error` message for its id, and so does
        a subscribe past the caller's rate limit (it takes a token, as a request does)."""
        payload = message["payload"]
        if self.connection_acknowledged and not await self._still_authenticated():
            return
        if self.connection_acknowledged and message["id"] not in self.operations:
            if await self._refused_past_most(message["id"]):
                return
            limiter = getattr(self.view, "limiter", None)
            if limiter is not None:
                refused = await limiter.refuse_subscribe(self.context.principal)
                if refused is not None:
                    error = {"id": message["id"], "type": "error", "payload": [refused]}
                    await self.send_message(error)  # type: ignore[arg-type]
                    return
            documents = getattr(self.view, "documents", None) or TrustedDocuments()
            assert isinstance(documents, TrustedDocuments)
            try:
                query = documents.query_for(payload)
                if query is not None:
                    documents.check(query, self.context.principal.role)
            except DocumentRefused as refused:
                error = {"id": message["id"], "type": "error", "payload": [refused.as_error()]}
                await self.send_message(error)  # type: ignore[arg-type]
                return
            if query is not None:
                message = {**message, "payload": {**payload, "query": query}}
        await super().handle_subscribe(message)

    async def _refused_past_most(self, operation_id: str) -> bool:
        """Refuse a `subscribe` while the connection runs its most operations already, with
        an `error` message that has a code (strawberry's own had none); whether it did."""
        most = self.max_subscriptions_per_connection
        if most is None or len(self.operations) < most:
            return False
        refused = {
            "message": f"at most {most} operations run on one connection: complete one first",
            "extensions": {"code": "SUBSCRIPTION_LIMIT"},
        }
        error = {"id": operation_id, "type": "error", "payload": [refused]}
        await self.send_message(error)  # type: ignore[arg-type]
        return True

    async def _still_authenticated(self) -> bool:
        """Check the connection's credential again, as `connection_init` did: a key revoked
        (once this process heard of it, as over HTTP) or a token expired at the clock's
        now closes the connection, its open streams with it. Whether it still holds."""
        if not hasattr(self.view, "connection_principal"):
            return True
        try:
            await cast("Credentials", self.view).connection_principal(self.context)
        except Unauthenticated as refused:
            await self._refuse_credential(refused)
            return False
        except Exception as exc:
            if not db.unavailable(exc):
                raise
            await self.websocket.close(code=1013, reason="database unavailable; retry")
            return False
        return True

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        # A credential's lookup that lost the database raised out of the handler, an
        # abnormal close (1011). The protocol has no code for it; the WebSocket one for
        # "try again later" is 1013, as a 503 is over HTTP. The view raises Unauthenticated
        # for a refused credential (the stock handler closed 4403 without its reason).
        try:
            await super().handle_connection_init(message)
        except Unauthenticated as refused:
            await self._refuse_credential(refused)
        except Exception as exc:
            if not db.unavailable(exc):
                raise
            await self.websocket.close(code=1013, reason="database unavailable; retry")

    async def _refuse_credential(self, refused: Unauthenticated) -> None:
        """Close for a refused credential: 4403 with its reason, unless the client address's
        bucket of bad credentials (the HTTP one) is empty: then 1008, `RATE_LIMITED: ...`,
        so that a flood of bad credentials is throttled over either transport."""
        limiter = cast("SubscribeLimiter | None", getattr(self.view, "limiter", None))
        assert isinstance(self.websocket, ASGIWebSocketAdapter)
        if limiter is not None:
            throttled = await limiter.refuse_bad_credential(self.websocket.ws.scope)
            if throttled is not None:
                await self.websocket.close(code=POLICY_VIOLATION, reason=_reason(throttled))
                return
        await self.websocket.close(code=FORBIDDEN, reason=_reason(f"Forbidden: {refused}"))

    async def cleanup_operation(self, operation_id: str) -> None:
        # The stock handler cancels the task of an operation the client completed, which
        # takes effect at the task's next suspension only, and left the operation not
        # `completed`: a replay page went out whole after `complete`, and interleaved
        # with a new operation under the same id. Completed, it sends nothing more.
        operation = self.operations.get(operation_id)
        if operation is not None:
            operation.completed = True
        await super().cleanup_operation(operation_id)

    async def _handle_pre_execution_error(
        self, operation: Operation[Context, None], result: PreExecutionError
    ) -> None:
        # The stock handler closes the whole connection (4400) for a syntax error or an
        # unknown operation name; those are errors of one operation, which the protocol's
        # `error` message reports, leaving the client's other subscriptions running.
        assert result.errors
        await operation.send_initial_errors(result.errors)

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        direct.use(Delivery(operation, self._send_text))
        await super().run_operation(operation)

    async def _send_text(self, text: str) -> None:
        assert isinstance(self.websocket, ASGIWebSocketAdapter)
        try:
            await self.websocket.ws.send_text(text)
        except WebSocketDisconnect as exc:  # as the stock adapter's send_json
            raise WebSocketDisconnected from exc


def _reason(text: str) -> str:
    """A close frame's reason, cut to what one may carry."""
    return text.encode()[:_MAX_REASON].decode(errors="ignore")


# A close frame's reason: at most 123 bytes of UTF-8 (its payload is at most 125, two of
# them the code; RFC 6455, 5.5).
_MAX_CLOSE_REASON = 123


def _close_reason(text: str) -> str:
    """`text` as a close frame can carry it, cut with an ellipsis when longer."""
    encoded = text.encode()
    if len(encoded) <= _MAX_CLOSE_REASON:
        return text
    return encoded[: _MAX_CLOSE_REASON - 3].decode(errors="ignore") + "\u2026"
