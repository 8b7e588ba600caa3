"""`POST /events`: usage events as CloudEvents, recorded by metering's ingest service with
usageRecord's rules, limits and authorisation, and a result for each event.

The body is decoded once (orjson; `cloudevents.body` reads again a body orjson refuses for
a number no float holds, so that only its event is refused) and each event read straight
into a usage event: no GraphQL document, validation or coercion. Request-level refusals
are JSON errors with a `code`, as the GraphQL view's are: 401 `UNAUTHENTICATED`, 403
`FORBIDDEN` (frontends), 405 `METHOD_NOT_ALLOWED`, 415 `UNSUPPORTED_MEDIA_TYPE`, 400
`BAD_REQUEST` (not JSON, a NUL character, the wrong shape, nesting past what is read) and
`INVALID_INPUT` (more than 1,000 events), 413 from the body limit, 408 from the body's
time. Nothing is written then. The batch is written by the process's `IngestWriter`,
together with the batches other requests have ready, in a transaction for each lane its
accounts fall in. A lost database is 503 `UNAVAILABLE` (retryable); after it, or after any
other failure of the write, the batch may have committed whole or in one lane's part, and
a retry with the same event ids counts each event once. Otherwise 200, with every event
accepted, a duplicate, or rejected with a reason, in the order sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from benefitgate import db
from benefitgate.api.changes import Committed
from benefitgate.api.context import Context
from benefitgate.auth.principals import Principal, Role, Unauthenticated
from benefitgate.catalog.cache import catalog_of
from benefitgate.catalog.models import Metric
from benefitgate.cloudevents.body import Unholdable, Unreadable, decode, unholdable
from benefitgate.cloudevents.format import Refused, event_of
from benefitgate.cloudevents.results import body_of
from benefitgate.common.text import quoted
from benefitgate.events import touch
from benefitgate.graphql.response_cache import ResponseFront
from benefitgate.graphql.responses import error_response, unavailable_response
from benefitgate.graphql.shapes import foreign_charset, json_kind, media_type_of
from benefitgate.graphql.unstorable import may_hold_nul, path_to_nul
from benefitgate.metering import ingest
from benefitgate.metering.models import EventOutcome, UsageEvent
from benefitgate.metering.partitions import Partitions
from benefitgate.metering.writer import IngestWriter

__all__ = ["EventsEndpoint"]

SINGLE = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
# OpenMeter also takes plain JSON, an event or an array of them.
PLAIN = "application/json"

Authenticate = Callable[[Request], Awaitable[Principal]]
MakeContext = Callable[[Request | None, Principal], Context]
Front = Callable[[], ResponseFront | None]  # the response cache, once the app started


class _Refusal(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


class EventsEndpoint:
    """The ASGI app of `POST /events`; the app mounts it under its middleware."""

    def __init__(self, authenticate: Authenticate, make_context: MakeContext, front: Front) -> None:
        self._authenticate = authenticate
        self._make_context = make_context
        self._front = front

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await self._respond(request)
        except _Refusal as refusal:
            headers = {"Allow": "POST"} if refusal.status == 405 else None
            if refusal.status == 401:
                headers = {"WWW-Authenticate": "Bearer"}
            response = error_response(refusal.status, str(refusal), refusal.code, headers)
        except Exception as exc:
            # The database lost (a key's lookup, a lane's transaction or its commit):
            # 503, as the GraphQL view answers; the batch may have committed, whole or a
            # lane's part, and a retry with the same event ids counts each event once.
            if not db.unavailable(exc):
                raise
            response = unavailable_response()
        await response(scope, receive, send)

    async def _respond(self, request: Request) -> Response:
        if request.method != "POST":
            raise _Refusal(405, "METHOD_NOT_ALLOWED", "send events with POST")
        try:
            principal = await self._authenticate(request)
        except Unauthenticated as exc:
            raise _Refusal(401, "UNAUTHENTICATED", str(exc)) from exc
        if principal.role is Role.FRONTEND:
            raise _Refusal(403, "FORBIDDEN", "frontends cannot record usage")
        raws, lenient = _events_in(request.headers.get("content-type", ""), await request.body())
        context = self._make_context(request, principal)
        writer = context.shared.get(IngestWriter)
        try:
            catalog = await catalog_of(context)
            read = await _read(raws, catalog.metrics, context.now, lenient)
            events = [e for e in read if isinstance(e, UsageEvent)]
            async with context.db.acquire() as conn:
                batch = await writer.prepare(conn, principal, events, catalog, context.now)
        finally:
            # The request's one connection, if it took one: the write takes the writer's.
            await context.db.release()
        # Ingest refuses events one by one, in their outcomes, never the whole batch.
        try:
            outcomes = await writer.record(batch)  # which counts them in the metrics
        except Exception:
            await self._after_write(context, batch.accounts)  # a lane may have committed
            raise
        await self._after_write(context, batch.changed(outcomes))
        window = context.shared.get(Partitions).window
        body = body_of(raws, _merge(read, outcomes), window)
        return Response(orjson.dumps(body), media_type="application/json")

    async def _after_write(self, context: Context, accounts: set[UUID]) -> None:
        """Before answering, drop what this process and (with Redis) every replica derived
        from the accounts the batch changed, as a mutation's edge does: a read sent once
        the batch is answered, to any replica, shows it. The listeners hear the write's
        touch only a moment after its commit, and a read in that moment was answered from
        a local tier with the usage before it."""
        if not accounts:
            return
        context.shared.get(Committed).changed(accounts)  # a milestone's reward grant
        front = self._front()
        if front is not None:
            await front.after_write([(touch.TOUCHED, a) for a in accounts])


# Events read between two turns of the event loop. Another batch on this process may be
# holding its counters' row locks until its next statement, which waits for the loop:
# reading a thousand events at once kept it waiting about 5 ms.
_CHUNK = 100


async def _read(
    raws: Sequence[Any], metrics: Mapping[str, Metric], now: datetime, lenient: bool
) -> list[UsageEvent | Refused]:
    """Each event read, or why it is refused; `lenient` for a body only the slower parser
    read, whose events may hold numbers no float holds (`cloudevents.body`)."""
    read: list[UsageEvent | Refused] = []
    for start in range(0, len(raws), _CHUNK):
        if start:
            await asyncio.sleep(0)
        chunk = raws[start : start + _CHUNK]
        if lenient:
            read.extend(unholdable(raw) or event_of(raw, metrics, now) for raw in chunk)
        else:
            read.extend(event_of(raw, metrics, now) for raw in chunk)
    return read


def _merge(
    read: Sequence[UsageEvent | Refused], outcomes: Sequence[EventOutcome]
) -> list[EventOutcome | Refused]:
    """Each event's result in the order sent: the format's refusal or ingest's outcome."""
    recorded = iter(outcomes)
    return [r if isinstance(r, Refused) else next(recorded) for r in read]


def _events_in(content_type: str, body: bytes) -> tuple[list[Any], bool]:
    """The decoded events of a body of `content_type`, and whether the slower parser read
    them (`cloudevents.body.decode`); or a refusal of the whole request."""
    kind = media_type_of(content_type)
    if kind not in (SINGLE, BATCH, PLAIN):
        named = f", not {quoted(kind)}" if kind else ": the request has no Content-Type"
        raise _Refusal(415, "UNSUPPORTED_MEDIA_TYPE", f"send {SINGLE}, {BATCH} or {PLAIN}{named}")
    charset = foreign_charset(content_type)
    if charset is not None:
        refused = f"send the events in UTF-8, not {quoted(charset)}"
        raise _Refusal(415, "UNSUPPORTED_MEDIA_TYPE", refused)
    try:
        decoded, lenient = decode(body)
    except Unreadable as exc:
        raise _Refusal(400, "BAD_REQUEST", str(exc)) from exc
    if may_hold_nul(body):
        path = path_to_nul(decoded, "the body")
        if path is not None:
            raise _Refusal(400, "BAD_REQUEST", f"text cannot hold a NUL character, as {path} does")
    if isinstance(decoded, dict) and kind != BATCH:
        return [decoded], lenient
    if not isinstance(decoded, list) or kind == SINGLE:
        wanted = "an array of events" if kind == BATCH else "an event object"
        given = "a number" if isinstance(decoded, Unholdable) else json_kind(decoded)
        raise _Refusal(400, "BAD_REQUEST", f"expected {wanted}, not {given}")
    if len(decoded) > ingest.MAX_BATCH:
        raise _Refusal(400, "INVALID_INPUT", f"at most {ingest.MAX_BATCH} events a request")
    return decoded, lenient
