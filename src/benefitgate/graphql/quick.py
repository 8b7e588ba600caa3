"""Requests answered before the view's own machinery: a POST whose bytes were read before
(`graphql.known`) and that is a response cache hit, an entitlement check, or (with the
response cache off) a view document.

Once its body is read, a hit or a check costs less than the machinery around it: a
Starlette request, the body read through it, the headers parsed into a mapping, a
Starlette response. A POST whose exact bytes were read before for the caller's role needs
none of that. Its reading was kept with what the view worked out from it (the check's plan
and arguments, the cache's key digest), so it is answered here with two ASGI messages,
as the view would have answered it: the same status, headers and body.

Anything else goes on to the view, with the body already read: a first reading, a check
not yet run cleanly by strawberry for the caller's role, a check that failed
unexpectedly, a key the local tier does not hold (the view looks it up in full, the
shared tier included), a GET (with its HTTP caching), a view document not yet run cleanly
for the role or that the path in front gave up (marked `GAVE_UP`: strawberry runs it), or
whose error nulled its data (marked `FAILED`: the view makes strawberry's response of it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.types import Message, Receive, Scope, Send

from benefitgate.api.context import Context
from benefitgate.auth.principals import Principal
from benefitgate.graphql.fast.checks import CheckPath
from benefitgate.graphql.fast.queries import QueryFailure, QueryPath, QueryPlan
from benefitgate.graphql.known import KnownRequests
from benefitgate.graphql.observe import operation_succeeded
from benefitgate.graphql.response_cache import ResponseFront
from benefitgate.graphql.responses import GRAPHQL_RESPONSE, prefers_graphql_response
from benefitgate.graphql.shapes import is_json_body

__all__ = ["FAILED", "GAVE_UP", "QuickAnswers", "read_body"]

MakeContext = Callable[[Request | None, Principal], Context]
# The scope key set when the view documents' path gave a request up here: the view must
# not try it in front again, but have strawberry run it.
GAVE_UP = "benefitgate.gave_up"
# The scope key of a view document whose error nulled its data here: the view answers it
# as strawberry answers such a result (`GraphQLView._failed_query`), without running it again.
FAILED = "benefitgate.failed"
_JSON = b"application/json"
_GRAPHQL_RESPONSE = GRAPHQL_RESPONSE.encode()


class QuickAnswers:
    def __init__(
        self,
        known: KnownRequests,
        checks: CheckPath | None,
        queries: QueryPath | None,
        front: Callable[[], ResponseFront | None],
        make_context: MakeContext,
        encode: Callable[[object], str],
    ) -> None:
        self._known = known
        self._checks = checks
        self._queries = queries
        self._front = front
        self._make_context = make_context
        self._encode = encode

    async def answer(
        self, scope: Scope, principal: Principal, body: bytes, receive: Receive, send: Send
    ) -> bool:
        """Whether the POST in `scope` with `body` was answered here."""
        content_type = accept = None
        for name, value in scope["headers"]:  # the first of a repeated field, as Starlette
            if name == b"content-type" and content_type is None:
                content_type = value
            elif name == b"accept" and accept is None:
                accept = value
        declared_json = content_type is not None and is_json_body(content_type.decode("latin-1"))
        known = self._known.peek("POST", declared_json, principal.role, body)
        if known is None:
            return False
        wanted = accept is not None and prefers_graphql_response(accept.decode("latin-1"))
        media = _GRAPHQL_RESPONSE if wanted else _JSON
        check = known.worked_out.get("check")
        if check is not None and check[0] is not None:
            return await self._check(scope, principal, check, receive, send, media)
        front, cached = self._front(), known.worked_out.get("cache")
        query = known.worked_out.get("query")
        if front is None and query is not None:
            return await self._query(scope, principal, query, known.variables, receive, send, media)
        if front is None or cached is None or cached[1] is None:
            return False
        entry = front.cache.local_hit(front.key(principal, cached[1]))
        if entry is None:
            return False
        await _respond(send, entry.body, media)
        return True

    async def _check(
        self,
        scope: Scope,
        principal: Principal,
        check: tuple[Any, dict[str, Any] | None],
        receive: Receive,
        send: Send,
        media: bytes,
    ) -> bool:
        plan, arguments = check
        if self._checks is None or arguments is None or principal.role not in plan.accepted:
            return False
        started = time.perf_counter()
        context = self._make_context(Request(scope, receive), principal)
        try:
            data = await self._checks.answer(plan, context, arguments)
        finally:
            await context.db.release()  # before the response is sent, as the view does
        if data is None:
            return False  # strawberry runs it again, and answers what it meets
        operation_succeeded(plan.operation_label, "query", time.perf_counter() - started)
        await _respond(send, self._encode({"data": data}).encode(), media)
        return True

    async def _query(
        self,
        scope: Scope,
        principal: Principal,
        plan: QueryPlan,
        variables: dict[str, Any] | None,
        receive: Receive,
        send: Send,
        media: bytes,
    ) -> bool:
        if self._queries is None or principal.role not in plan.accepted:
            return False
        started = time.perf_counter()
        context = self._make_context(Request(scope, receive), principal)
        try:
            data = await self._queries.answer(plan, context, variables)
        finally:
            await context.db.release()  # before the response is sent, as the view does
        if data is None:
            scope[GAVE_UP] = True  # strawberry runs it again, and answers what it meets
            return False
        if isinstance(data, QueryFailure):
            scope[FAILED] = (data, time.perf_counter() - started)  # the view answers it
            return False
        operation_succeeded(plan.label, "query", time.perf_counter() - started)
        await _respond(send, self._encode({"data": data}).encode(), media)
        return True


async def _respond(send: Send, body: bytes, media: bytes) -> None:
    """A 200 with `body`, headed as Starlette's `Response(body, media_type=...)` heads it."""
    headers = [(b"content-length", str(len(body)).encode()), (b"content-type", media)]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def read_body(receive: Receive) -> tuple[bytes, Receive]:
    """The request's whole body, and a `receive` that gives it again, then what `receive`
    gives (a disconnect), for the view to read the body once more. A client that goes away
    before the end raises Starlette's ClientDisconnect, as reading through a request does."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return body, replay
