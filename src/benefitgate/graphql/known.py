"""Requests read before: a small request's parameters, kept under its bytes.

Before the view can answer a request from the response cache or as an entitlement check,
it reads the request's parameters: the JSON, the GraphQL over HTTP shape, a trusted
document named by id, and the trusted documents' rule for the caller's role. That reading
cost more than the hit or the check it leads to. What it gives depends on nothing but the
method, the body (the query string of a GET), whether the body is declared JSON, the
caller's role and the manifest, which is fixed for the process's life. So a reading that
passed is kept under those, and a request with the same bytes skips it, with what was
worked out from its parameters (the check's plan and arguments, the cache's plan and the
part of its key that is not the caller's). Frontends and services repeat their requests
byte for byte (one document, one account), which is what makes this pay.

A refused reading is never kept: it is read again, and answered as before. The entries
are bounded in bytes (each charged its body and a fixed overhead), least recently used
first out; bodies above `MAX_BODY` are not kept.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from cachetools import LRUCache
from starlette.requests import Request

from benefitgate.auth.principals import Role
from benefitgate.graphql.shapes import is_json_body

__all__ = ["ENTRY_OVERHEAD", "MAX_BODY", "Known", "KnownRequests", "Params"]

Params = tuple[str, str | None, Any]  # a document, its operation's name, its variables

MAX_BODY = 4096  # a check or a view request is a few hundred bytes; a usage batch is not kept
# What an entry holds beyond its body and its document's text (the parsed variables, the
# worked-out plans, the key, the LRU's bookkeeping): 1,090 bytes for an entitlement
# check's, measured with tracemalloc; charged with a margin.
ENTRY_OVERHEAD = 1_200
_MAX_BYTES = 16 * 1024 * 1024
_SHARED_TEXTS = 1_000  # documents whose text the entries share


@dataclass(slots=True)
class Known:
    """One reading that passed, and what was worked out from it on first use. Shared by
    every request with the same bytes: nothing here is ever modified once set."""

    query: str
    operation_name: str | None
    variables: Any  # the JSON object sent, or None
    size: int
    worked_out: dict[str, Any] = field(default_factory=dict)  # by whoever worked it out

    def once(self, name: str, work: Callable[[Known], Any]) -> Any:
        """`work(self)`, computed on the first call for `name` and kept."""
        try:
            return self.worked_out[name]
        except KeyError:
            value = self.worked_out[name] = work(self)
            return value


class KnownRequests:
    def __init__(self, max_bytes: int = _MAX_BYTES) -> None:
        self._entries: LRUCache[tuple[str, bool, Role, bytes], Known] = LRUCache(
            maxsize=max_bytes, getsizeof=lambda known: known.size
        )
        self._texts: LRUCache[str, str] = LRUCache(maxsize=_SHARED_TEXTS)

    def __len__(self) -> int:
        return len(self._entries)

    def peek(self, method: str, declared_json: bool, role: Role, raw: bytes) -> Known | None:
        """The kept reading of these bytes, if any (nothing is read)."""
        try:  # indexing: cachetools' `get` looks the key up three times
            return self._entries[method, declared_json, role, raw]
        except KeyError:
            return None

    async def read(
        self, request: Request, role: Role, read: Callable[[], Awaitable[Params | None]]
    ) -> Known | None:
        """The request's reading: the kept one for its bytes, else `read()`'s (kept when it
        passed and the body is small); None when `read` refused it."""
        if request.method == "GET":
            raw, declared_json = request.scope["query_string"], False
        else:
            raw = await request.body()
            declared_json = is_json_body(request.headers.get("content-type", ""))
        found = self.peek(request.method, declared_json, role, raw)
        if found is not None:
            return found
        params = await read()
        if params is None:
            return None
        query, operation_name, variables = params
        if len(raw) > MAX_BODY:
            return Known(query, operation_name, variables, len(raw))  # not kept
        text, charged = self._shared(query)
        known = Known(text, operation_name, variables, len(raw) + charged + ENTRY_OVERHEAD)
        self._entries[request.method, declared_json, role, raw] = known
        return known

    def _shared(self, query: str) -> tuple[str, int]:
        """One copy of each document's text for the entries that hold it (requests repeat
        a few documents with other variables), and what an entry is charged for it: its
        length, unless an entry that holds it was charged already."""
        found = self._texts.get(query)
        if found is not None:
            return found, 0
        self._texts[query] = query
        return query, len(query)
