"""Pure ASGI middleware: request ids with an access log, and request header and body size
limits."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from benefitgate.graphql.sockets import refuse_upgrade
from benefitgate.graphql.view import error_response
from benefitgate.logs import request_id
from benefitgate.telemetry import metrics

__all__ = ["BodyLimitMiddleware", "HeaderLimitMiddleware", "RequestIdMiddleware"]

log = logging.getLogger("benefitgate.access")

_SAFE_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_ROUTES = frozenset({"/graphql", "/healthz", "/readyz", "/metrics"})  # labels: a fixed set


class RequestIdMiddleware:
    """Takes a sane X-Request-ID from the caller or makes one; echoes it, logs the request
    and counts it by route and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = given if _SAFE_ID.match(given) else uuid.uuid4().hex
        token = request_id.set(rid)
        started, status = time.perf_counter(), 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope["path"] if scope["path"] in _ROUTES else "other"
            metrics.child(metrics.HTTP_REQUESTS, route, str(status)).inc()
            log.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra={"status": status, "ms": round((time.perf_counter() - started) * 1000, 2)},
            )
            request_id.reset(token)


class _TooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """Refuses bodies above `max_bytes` with 413, by header or by counting the stream."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _TooLarge
            return message

        try:
            await self.app(scope, counting_receive, send)
        except _TooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413, f"request body above {self.max_bytes} bytes", "PAYLOAD_TOO_LARGE"
        )
        await response(scope, receive, send)


class HeaderLimitMiddleware:
    """Refuses requests whose headers (names and values together) pass `max_bytes` with 431,
    and WebSocket upgrades with them likewise. The HTTP parser has taken them in by then
    (httptools keeps headers of any size; h11 stops near `h11_max_incomplete_event_size`
    with a bare 400), so this bounds what the service handles, not what it reads."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or (
            sum(len(k) + len(v) for k, v in scope["headers"]) <= self.max_bytes
        ):
            await self.app(scope, receive, send)
            return
        response = error_response(
            431, f"request headers above {self.max_bytes} bytes", "HEADERS_TOO_LARGE"
        )
        if scope["type"] == "http":
            await response(scope, receive, send)
            return
        await refuse_upgrade(scope, receive, send, response)
