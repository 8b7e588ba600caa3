"""The service's edge: every concern that stands between uvicorn and a route, in one pure
ASGI layer.

Each concern keeps its own module (`graphql.middleware`: the request id, the access log and
request count, the header and body limits; `graphql.ratelimit`: the caller's bucket, which
authenticates; `graphql.sockets`: WebSocket frame size and message rate); the edge runs
them in order over the request's scope, reads the headers once, and wraps `send` once to
mark every answer (the RateLimit fields, then `X-Request-ID`) and learn its status.

For an HTTP request, in this order, as the separate middleware layers did before:

1. the request id (the caller's if sane, else a new one) for the log context;
2. headers above the limit: 431; more than one `Authorization` field: 400; a body in a
   content coding (`Content-Encoding: gzip`): 415, since bodies are not decoded; one in a
   transfer coding besides chunked (`Transfer-Encoding: gzip, chunked`): 501;
3. the rate limit of `/graphql` and `/events`: 429 when the caller's bucket is empty;
4. a body above the limit by its `Content-Length`: 413 (one that came whole with its head
   is passed on as it is: the parser held it to that length); a streamed one is counted
   as it is read, 413 once past the limit; a body not whole within its time
   (`BENEFITGATE_BODY_SECONDS` from its first read, `graphql.body_clock`; one the server
   marks whole on arrival, `http_protocol.BODY_WHOLE`, is not timed): 408, and the
   connection closed;
5. `/graphql` (GET, HEAD, POST) goes to the view straight, without Starlette's exception
   middleware, router and route (what they would do for it is nothing: the view raises
   no Starlette `HTTPException`, and needs no path parameters); anything else goes to the
   router. Starlette's `ServerErrorMiddleware` stays outside the edge: an unexpected
   error is answered 500 and counted as before.

A client that goes away before its body has arrived (it sent less than its
`Content-Length`, or closed mid-chunk) is counted and logged as 499, the status proxies
use for it: nothing ran (a body is read whole before anything is written), nobody is
left to answer, and it is not the service's error.

Then the request is counted and logged (status, milliseconds), whatever happened. A
WebSocket upgrade goes through the header limit and the socket guard; the lifespan straight
to the app. CORS (when origins are configured) and tracing (when on) stay outside, as
their own layers: they cost nothing when off.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from benefitgate.graphql import middleware
from benefitgate.graphql.body_clock import BodyClock, BodyTooSlow, body_too_slow
from benefitgate.graphql.ratelimit import RequestLimit
from benefitgate.graphql.sockets import refuse_upgrade
from benefitgate.http_protocol import BODY_WHOLE
from benefitgate.logs import request_id

__all__ = ["Edge"]

# Starlette's route for the view answers these (HEAD with GET), and 405 the rest.
_VIEW_METHODS = frozenset({"GET", "HEAD", "POST"})
VIEW_PATH = "/graphql"
CLIENT_CLOSED = 499  # the client went away before sending its whole request


class Edge:
    def __init__(
        self,
        app: ASGIApp,
        *,
        view: ASGIApp,
        limit: RequestLimit,
        socket_guard: Callable[[ASGIApp], ASGIApp],
        max_header_bytes: int,
        max_body_bytes: int,
        body_seconds: float = 0.0,
    ) -> None:
        """`app` is the rest of the stack (the router); `view` the GraphQL view it routes
        `/graphql` to; `socket_guard` builds the WebSocket guard around `app`."""
        self.app = app
        self._view = view
        self._limit = limit
        self._socket_guard = socket_guard(app)
        self._max_header_bytes = max_header_bytes
        self._max_body_bytes = max_body_bytes
        self._clock = BodyClock(body_seconds) if body_seconds > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            if _header_bytes(scope) > self._max_header_bytes:
                response = middleware.headers_too_large(self._max_header_bytes)
                await refuse_upgrade(scope, receive, send, response)
                return
            await self._socket_guard(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        size, given, length, authorization, credentials = 0, None, None, None, 0
        coding, transfer = None, b""
        for name, value in scope["headers"]:  # the last of a repeated header counts
            size += len(name) + len(value)
            if name == b"x-request-id":
                given = value
            elif name == b"content-length":
                length = value
            elif name == b"authorization":
                authorization, credentials = value, credentials + 1
            elif name == b"content-encoding":
                coding = value
            elif name == b"transfer-encoding":  # every field: they make one list
                transfer += b"," + value if transfer else value
        rid = middleware.request_id_of(given)
        token = request_id.set(rid)
        started, status = time.perf_counter(), 0  # 0 until the answer starts
        marks = [(b"x-request-id", rid.encode())]

        async def marked(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), *marks]
            await send(message)

        try:
            malformed = self._malformed(size, credentials, coding, transfer)
            if malformed is not None:
                await malformed(scope, receive, marked)
                return
            refusal, fields = await self._limit(scope, authorization)
            if refusal is not None:  # it carries the RateLimit fields itself
                await refusal(scope, receive, marked)
                return
            marks[:0] = fields
            await self._within_body_limit(scope, receive, marked, length)
        except ClientDisconnect:
            # Raised by Starlette reading the body; was answered 500 with a traceback.
            status = CLIENT_CLOSED
        except BodyTooSlow:
            # Nothing reads a body after its answer began; if something did, uvicorn closes
            # the connection of an answer left unfinished.
            if not status:
                assert self._clock is not None
                await body_too_slow(self._clock.seconds)(scope, receive, marked)
        finally:
            # An error raised out of the app: Starlette's error middleware answers 500.
            middleware.record(scope, status or 500, started)
            request_id.reset(token)

    def _malformed(
        self, size: int, credentials: int, coding: bytes | None, transfer: bytes
    ) -> Response | None:
        """The answer to a request its headers alone refuse: too large, more than one
        credential, a body in a content coding (read as it came, a gzipped body was "not
        JSON", and one marked `br` but sent plain was taken), a body in a transfer coding
        besides chunked (the parser reads `gzip, chunked` as chunked alone, where a proxy
        in front may read it otherwise)."""
        if size > self._max_header_bytes:
            return middleware.headers_too_large(self._max_header_bytes)
        if credentials > 1:
            return middleware.repeated_credentials()
        if coding is not None and coding.strip().lower() not in (b"", b"identity"):
            return middleware.encoded_body()
        if transfer and transfer.strip().lower() != b"chunked":
            return middleware.unknown_transfer_coding()
        return None

    async def _within_body_limit(
        self, scope: Scope, receive: Receive, send: Send, length: bytes | None
    ) -> None:
        limit = self._max_body_bytes
        if length is not None:
            # Whitespace around a field's value is not part of it (RFC 9110, 5.5), and the
            # parser passes trailing whitespace on: `100 ` got 413 for a 100-byte body.
            length = length.strip(b" \t")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await middleware.body_too_large(limit)(scope, receive, send)
            return
        direct = (
            scope["path"] == VIEW_PATH
            and scope["method"] in _VIEW_METHODS
            and not scope.get("root_path")  # the router would match the path within it
        )
        app = self._view if direct else self.app
        if scope.get(BODY_WHOLE) and length is not None:
            # Nearly every body: it came whole with its head, exactly the length it stated
            # (the HTTP parser holds it to that), so it is neither timed nor counted.
            await app(scope, receive, send)
            return
        # A body that came whole with its head is not timed.
        clock = None if scope.get(BODY_WHOLE) else self._clock
        try:
            await app(scope, middleware.bounded(receive, limit, clock), send)
        except middleware.BodyTooLarge:
            await middleware.body_too_large(limit)(scope, receive, send)


def _header_bytes(scope: Scope) -> int:
    return sum(len(k) + len(v) for k, v in scope["headers"])
