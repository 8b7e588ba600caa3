"""The per-request context: who is asking, the time of the request, its one database
connection, and what the process shares with every request.

The context knows no domain. Process-wide objects (the catalog cache, the usage partitions,
the live renderings) are found by their type in `shared`; per-request loaders are built on
first use by `loader(make)`. Domains bring their own of both, so this package imports none
of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeAlias, TypeVar, cast

import asyncpg
import strawberry
from starlette.requests import Request

from benefitgate.auth.principals import Principal
from benefitgate.events.hub import Hub
from benefitgate.replica import ReadReplica

__all__ = ["Context", "Info", "RequestConnection", "Shared"]

T = TypeVar("T")


class Shared:
    """The process-wide objects the app builds in its lifespan, each found by its type."""

    def __init__(self, *objects: object) -> None:
        self._by_type: dict[type, object] = {type(o): o for o in objects}

    def get(self, kind: type[T]) -> T:
        return cast(T, self._by_type[kind])

    def find(self, kind: type[T]) -> T | None:
        """The object of type `kind`, if the app has one (an optional part)."""
        return cast(T | None, self._by_type.get(kind))


class RequestConnection:
    """The pooled connection of one HTTP request: checked out on first use and kept until
    `release()`, so that a request's statements cost one checkout (and one release) however
    many loaders and services run them.

    Blocks (`async with db.acquire() as conn`) take turns on it: sibling fields resolved
    concurrently wait for each other rather than take a second connection each, which
    under load would leave every request holding one connection and waiting for another.
    So a block must only run statements: awaiting a loader or another block inside one
    would wait for itself (inside the same task that is refused at once). After
    `release()`, and in contexts that do not hold (`hold=False`: a WebSocket connection's,
    which lasts as long as the socket), each block checks a connection out and back.
    """

    def __init__(self, pool: asyncpg.Pool, *, hold: bool) -> None:
        self._pool = pool
        self._hold = hold
        self._held: asyncpg.Connection | None = None
        self._turn = asyncio.Lock()
        self._user: asyncio.Task[object] | None = None
        self._replica: ReadReplica | None = None
        self._from_replica = False

    def read_from(self, replica: ReadReplica) -> None:
        """Take the held connection from `replica` when it is fresh enough (a query's
        request, before its first statement); otherwise from the primary as usual."""
        if self._hold and self._held is None:
            self._replica = replica

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        if not self._hold:
            async with self._pool.acquire() as own:
                yield own
            return
        if self._user is not None and self._user is asyncio.current_task():
            raise RuntimeError("a block of the request's connection nested in another")
        async with self._turn:
            if not self._hold:  # released while this block waited its turn
                async with self._pool.acquire() as own:
                    yield own
                return
            self._user = asyncio.current_task()
            try:
                if self._held is None:
                    self._held = await self._checkout()
                yield self._held
            finally:
                self._user = None
                if not self._hold:  # released while this block ran
                    await self._give_back()

    async def release(self) -> None:
        """Give the connection back to the pool (at the end of the block using it, if one
        is); later blocks check out their own."""
        self._hold = False
        if not self._turn.locked():
            await self._give_back()

    async def _checkout(self) -> asyncpg.Connection:
        if self._replica is not None:
            conn = await self._replica.acquire()
            if conn is not None:
                self._from_replica = True
                return conn
        connection: asyncpg.Connection = await self._pool.acquire()
        return connection

    async def _give_back(self) -> None:
        held, self._held = self._held, None
        if held is None:
            return
        if self._from_replica and self._replica is not None:
            self._from_replica = False
            await self._replica.release(held)
        else:
            await self._pool.release(held)


@dataclass
class Context:
    request: Request | None
    principal: Principal
    pool: asyncpg.Pool
    now: datetime  # one instant for the whole request, from the injected clock
    shared: Shared
    live: Hub | None = None  # this process's subscribers; WebSocket connections use it
    # The `connection_init` payload of a WebSocket connection; strawberry sets it.
    connection_params: dict[str, object] = field(default_factory=dict)
    _loaders: dict[object, object] = field(default_factory=dict, init=False, repr=False)
    # The request's connection: `async with context.db.acquire() as conn`. An HTTP request
    # holds one until the view releases it; a WebSocket context checks out per block.
    db: RequestConnection = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.db = RequestConnection(self.pool, hold=self.request is not None)

    def loader(self, make: Callable[[Context], T]) -> T:
        """This request's own `make(self)`, built on first use: a domain's DataLoaders live
        as long as the request and are shared by all its resolvers."""
        found = self._loaders.get(make)
        if found is None:
            found = self._loaders[make] = make(self)
        return cast(T, found)


Info: TypeAlias = strawberry.Info[Context, None]
