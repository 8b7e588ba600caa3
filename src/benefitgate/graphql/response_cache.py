"""The response cache in front of GraphQL execution.

A query whose root fields are all cacheable (the account view and the catalog's reads) is
looked up by `response_key` before strawberry sees the request: a hit is answered without
parsing, validating, executing or touching the database. A miss executes normally; its
response is stored, after it was sent, only if it has no errors, every `account` root
reported what it read (`cache.reads.Reads`), and no tag it read was invalidated since the
request began. It lives until the earliest instant it would change with time alone: the
account view's own (`views.expiry`), the next grant start or end, the next tier version in
force, the next UTC midnight, and the expiry of a frontend's token.

A request that may write (anything but a cacheable query) records the events it enqueued
and the accounts it touched; before its response leaves, their tags are invalidated here,
in the shared tier, and (with Redis) in every replica's local tier, which confirm or have
stopped using it (`cache.broadcasts`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cachetools import LRUCache
from starlette.requests import Request
from starlette.responses import Response

from benefitgate.api.context import Context
from benefitgate.auth.principals import Principal, Role
from benefitgate.cache.keys import request_digest, response_key
from benefitgate.cache.local import Entry
from benefitgate.cache.reads import Reads
from benefitgate.cache.responses import ResponseCache, Ticket
from benefitgate.cache.tags import CATALOG, event_tags
from benefitgate.catalog.models import Catalog
from benefitgate.events.written import Changes
from benefitgate.graphql.known import Known
from benefitgate.graphql.responses import GRAPHQL_RESPONSE, wants_graphql_response
from benefitgate.views.expiry import earliest_after, grants_change_at, next_midnight
from graphql import (
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    Visitor,
    get_operation_ast,
    parse,
    visit,
)

__all__ = [
    "EXCHANGE",
    "CachedQuery",
    "Exchange",
    "ResponseFront",
    "cached_response",
    "exchange_of",
    "http_cache_headers",
    "matches",
    "scope_of",
]

log = logging.getLogger(__name__)

# Root fields whose answers are cached. `account` reports its tags through `Reads`; the
# catalog's reads are filed under the catalog, which every response carries anyway.
CATALOG_ROOTS = frozenset({"tiers", "tier", "benefits", "milestones", "__typename"})
REPORTING_ROOTS = frozenset({"account"})
EXCHANGE = "benefitgate.cache"  # the ASGI scope's key of a request's `Exchange`


@dataclass(frozen=True, slots=True)
class Plan:
    """What the response cache needs to know of one cacheable operation."""

    reporting_roots: int  # root fields that must report to `Reads`
    selected: frozenset[str]  # every field name the document selects


@dataclass(frozen=True, slots=True)
class CachedQuery:
    """A cacheable request on its way through execution."""

    key: str
    plan: Plan
    ticket: Ticket
    principal: Principal
    method: str


@dataclass(slots=True)
class Exchange:
    """What the view learns of one HTTP request on its way through the cache. Kept in the
    ASGI scope, which is the request's own (`request.state` may be shared with the
    lifespan's state)."""

    pending: CachedQuery | None = None
    context: Context | None = None
    clean: bool = False  # executed, and no errors
    body: bytes = b""


def exchange_of(request: Request) -> Exchange:
    found = request.scope.get(EXCHANGE)
    if found is None:
        found = request.scope[EXCHANGE] = Exchange()
    assert isinstance(found, Exchange)
    return found


def scope_of(principal: Principal) -> str:
    """Whose answer it is: a frontend's account, a partner, or an internal role."""
    if principal.role is Role.FRONTEND:
        return f"frontend:{principal.account_id}"
    if principal.role is Role.PARTNER:
        return f"partner:{principal.partner_id}"
    return f"role:{principal.role.value}"


class _FieldNames(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        self.names.add(node.name.value)


def _plan(query: str, operation_name: str | None, max_tokens: int) -> Plan | None:
    try:
        document = parse(query, no_location=True, max_tokens=max_tokens)
    except GraphQLError:
        return None  # strawberry reports it
    operation = get_operation_ast(document, operation_name)
    if not isinstance(operation, OperationDefinitionNode):
        return None
    if operation.operation is not OperationType.QUERY:
        return None
    reporting = 0
    for selection in operation.selection_set.selections:
        if not isinstance(selection, FieldNode):
            return None  # a fragment at the root: not worth following
        name = selection.name.value
        if name in REPORTING_ROOTS:
            reporting += 1
        elif name not in CATALOG_ROOTS:
            return None
    names = _FieldNames()
    visit(document, names)
    return Plan(reporting, frozenset(names.names))


class ResponseFront:
    def __init__(
        self,
        cache: ResponseCache,
        schema_version: str,
        catalog: Callable[[], Awaitable[Catalog]],
        max_tokens: int,
    ) -> None:
        self.cache = cache
        self._schema_version = schema_version
        self._catalog = catalog
        self._max_tokens = max_tokens
        self._plans: LRUCache[tuple[str, str | None], Plan | None] = LRUCache(maxsize=2_000)
        self.storing = 0  # responses about to be sent and then stored

    def plan(self, query: str, operation_name: str | None) -> Plan | None:
        found_key = (query, operation_name)
        if found_key in self._plans:
            return self._plans[found_key]
        plan = self._plans[found_key] = _plan(query, operation_name, self._max_tokens)
        return plan

    def worked_out(self, known: Known) -> tuple[Plan | None, bytes | None]:
        """A request's plan (None: not cacheable) and the digest of its key that is not
        the caller's (None for variables too deep to encode: strawberry judges them,
        uncached). Worked out once for the request's bytes (`graphql.known`)."""
        plan = self.plan(known.query, known.operation_name)
        if plan is None:
            return None, None
        try:
            digest = request_digest(
                self._schema_version, known.query, known.operation_name, known.variables
            )
        except TypeError:  # orjson: nested deeper than it encodes
            return plan, None
        return plan, digest

    @staticmethod
    def key(principal: Principal, digest: bytes) -> str:
        """The key of `principal`'s answer to the request of `digest`."""
        return response_key(scope_of(principal), digest)

    async def find(self, key: str) -> Entry | Ticket:
        """The entry under `key`, or the ticket to store a fresh answer with."""
        return await self.cache.find(key)

    def reads_for(self, context: Context, pending: CachedQuery) -> None:
        context.loader(Reads).begin(pending.plan.selected)

    async def store(self, pending: CachedQuery, context: Context, body: bytes) -> bool:
        """Keep a clean response, filed under what it read, until it would change."""
        reads = context.loader(Reads)
        if reads.roots_reported < pending.plan.reporting_roots:
            return False
        until = await self._until(pending, context, reads)
        tags = reads.tags | {CATALOG}
        return await self.cache.store(pending.ticket, pending.key, body, tags, until)

    async def _until(self, pending: CachedQuery, context: Context, reads: Reads) -> datetime | None:
        now = context.now
        if reads.until is not None and reads.until <= now:
            return now  # it moves continuously: not worth a statement to find out more
        catalog = await self._catalog()
        instants = [
            reads.until,
            next_midnight(now),
            catalog.next_change(now),
            pending.principal.expires_at,
        ]
        instants += reads.grant_changes.values()
        unread = reads.accounts - reads.grant_changes.keys()
        if unread:
            async with context.pool.acquire() as conn:
                instants.append(await grants_change_at(conn, unread, now))
        return earliest_after(now, instants)

    async def after_write(self, changed: Changes) -> None:
        """Invalidate what a request's writes changed, everywhere, before it answers."""
        tags = event_tags(changed)
        if not tags:
            return
        await self.cache.invalidate(tags)
        if self.cache.shared is not None:
            await self.cache.shared.broadcasts.broadcast(tags)


def cached_response(entry: Entry, request: Request) -> Response:
    """A hit, as the executed response would have been sent, with HTTP caching headers on
    GET (304 when the client already holds it)."""
    media = GRAPHQL_RESPONSE if wants_graphql_response(request) else "application/json"
    if request.method != "GET":
        return Response(entry.body, media_type=media)
    headers = http_cache_headers(entry.etag, media)
    if matches(request, headers["ETag"]):
        return Response(status_code=304, headers=headers)
    return Response(entry.body, media_type=media, headers=headers)


def http_cache_headers(etag: str, media_type: str) -> dict[str, str]:
    """The caching headers of a GET answer whose body has `etag`, sent as `media_type`.
    `Accept` chooses the media type, so it is in `Vary`, and each media type has its own
    validator (RFC 9110, 8.8.3): with one ETag for both, a client holding the JSON answer
    got 304 asking for `application/graphql-response+json`, and kept a representation it
    had not asked for."""
    if media_type.startswith(GRAPHQL_RESPONSE):
        etag = etag[:-1] + '-gr"'
    return {"ETag": etag, "Cache-Control": "private, no-cache", "Vary": "Authorization, Accept"}


def matches(request: Request, etag: str) -> bool:
    """Whether the client's If-None-Match names `etag` (or `*`)."""
    header = request.headers.get("if-none-match", "")
    tags = {part.strip().removeprefix("W/") for part in header.split(",") if part.strip()}
    return etag in tags or "*" in tags
