"""The edge's concerns about the request itself: its id, with the access log line and the
request count, the request header and body size limits, and the time a body may take to
arrive (`graphql.body_clock`). `graphql.edge` runs them, in one ASGI layer with the rest of
the edge."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import re
import time

from starlette.responses import Response
from starlette.types import Message, Receive, Scope

from benefitgate.graphql.body_clock import BodyClock, BodyTooSlow, Reading
from benefitgate.graphql.responses import error_response
from benefitgate.telemetry import metrics

__all__ = [
    "BodyTooLarge",
    "body_too_large",
    "bounded",
    "headers_too_large",
    "record",
    "request_id_of",
    "unknown_transfer_coding",
]

log = logging.getLogger("benefitgate.access")

_SAFE_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
# Seeded from the system's randomness, and again in a forked child (so that workers forked
# from one parent make ids of their own); no other code seeds it.
_ids = random.Random()  # noqa: S311 (ids need to be unique, not unguessable)
os.register_at_fork(after_in_child=_ids.seed)
_random_bits = _ids.getrandbits
_ROUTES = frozenset({"/graphql", "/healthz", "/readyz", "/metrics"})  # labels: a fixed set


def request_id_of(given: bytes | None) -> str:
    """The caller's X-Request-ID when it is sane, else a new one: 128 random bits in hex,
    as `uuid4().hex` spells them. An id must be unique, not unguessable, so its bits come
    from a generator of the edge's own rather than a system call per request (a cache
    hit's costliest step, bench/README.md)."""
    if given:
        text = given.decode("latin-1")
        if _SAFE_ID.match(text):
            return text
    return "%032x" % _random_bits(128)  # noqa: UP031 (a third faster than format())


def record(scope: Scope, status: int, started: float) -> None:
    """Count the request by route and status, and write its access log line."""
    route = scope["path"] if scope["path"] in _ROUTES else "other"
    metrics.child(metrics.HTTP_REQUESTS, route, str(status)).inc()
    if log.isEnabledFor(logging.INFO):  # the line's fields cost something even unwritten
        log.info(
            "%s %s %s",
            scope["method"],
            scope["path"],
            status,
            extra={"status": status, "ms": round((time.perf_counter() - started) * 1000, 2)},
        )


def headers_too_large(max_bytes: int) -> Response:
    """The answer to a request whose headers (names and values together) pass `max_bytes`.
    The HTTP parser has taken them in by then (httptools keeps headers of any size; h11
    stops near `h11_max_incomplete_event_size` with a bare 400), so the limit bounds what
    the service handles, not what it reads."""
    return error_response(431, f"request headers above {max_bytes} bytes", "HEADERS_TOO_LARGE")


def repeated_credentials() -> Response:
    """The answer to a request with more than one `Authorization` field. It is a singleton
    (RFC 9110, 11.6.2); the rate limit authenticated the last one and the rest of the
    service the first, so the two could act for different callers, and a proxy that
    checks one could be passed with the other."""
    return error_response(400, "send one Authorization header, not several", "BAD_REQUEST")


def encoded_body() -> Response:
    """The answer to a body in a content coding (RFC 9110, 15.5.16): the service reads
    bodies as they come, so one in gzip was refused as "not JSON", and one marked with a
    coding but sent plain was taken as if the mark were not there."""
    return error_response(
        415,
        "send the body without a Content-Encoding: it is not decoded here",
        "UNSUPPORTED_MEDIA_TYPE",
        {"Accept-Encoding": "identity"},
    )


def unknown_transfer_coding() -> Response:
    """The answer to a body in a transfer coding besides `chunked` (RFC 9112, 6.1: 501 for
    one the server does not understand). The HTTP parser took `gzip, chunked` as chunked
    alone and read the body as plain: two readers of one request could disagree on it."""
    return error_response(
        501,
        "send the body plain or chunked: no other transfer coding is decoded here",
        "NOT_IMPLEMENTED",
    )


def body_too_large(max_bytes: int) -> Response:
    return error_response(413, f"request body above {max_bytes} bytes", "PAYLOAD_TOO_LARGE")


class BodyTooLarge(Exception):
    """A streamed body passed the limit: the edge answers 413."""


def bounded(receive: Receive, max_bytes: int, clock: BodyClock | None) -> Receive:
    """`receive`, raising BodyTooLarge once the body read passes `max_bytes` (a body sent
    without a length, or longer than it said), and BodyTooSlow when it is not whole in the
    time of `clock` (None: no limit) from its first read. Once the body is whole, `receive`
    waits for the client's going away as long as an answer takes to stream."""
    seen, whole = 0, clock is None
    reading: Reading | None = None

    async def bounded_receive() -> Message:
        nonlocal seen, whole, reading
        if whole:
            message = await receive()
        else:
            if reading is None:
                assert clock is not None
                reading = clock.start()
            reading.waiting()
            arrived: Message | None = None
            try:
                arrived = await receive()
            except asyncio.CancelledError as cancelled:
                reading.cut(cancelled)
            finally:
                reading.arrived()
            if arrived is None:
                # Raised outside the handler: no error in its context, where `db.unavailable`
                # would look for a lost database.
                raise BodyTooSlow
            message = arrived
            whole = not message.get("more_body", False)
        seen += len(message.get("body", b""))
        if seen > max_bytes:
            raise BodyTooLarge
        return message

    return bounded_receive
