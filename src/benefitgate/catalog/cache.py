"""The catalog snapshot each process keeps, invalidated by outbox events.

The catalog is small and read by every view, so each process keeps one snapshot of it.
Postgres stays the source of truth: the snapshot is dropped when a catalog event commits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager

import asyncpg

from benefitgate.api.context import Context
from benefitgate.catalog.models import Catalog
from benefitgate.telemetry import metrics

__all__ = ["CatalogCache", "catalog_of"]

Connect = Callable[[], AbstractAsyncContextManager[asyncpg.Connection]]


class CatalogCache:
    """One catalog snapshot per process, loaded once however many requests miss at once."""

    def __init__(
        self, load: Callable[[asyncpg.Connection], Awaitable[Catalog]], pool: asyncpg.Pool
    ) -> None:
        self._load = load
        self._pool = pool
        # One value: an attribute, read on every request's path (aiocache's lookup, with its
        # plugin hooks and an environment read, cost more than the rest of a warm check).
        self._catalog: Catalog | None = None
        self._lock = asyncio.Lock()
        self._generation = 0

    async def get(self, connect: Connect | None = None) -> Catalog:
        """The snapshot; on a miss loaded through `connect` (the request's own connection:
        a request that holds one must not wait for a second), else a pooled one."""
        catalog = self._catalog
        metrics.cache_lookup("catalog", "process", catalog is not None)
        if catalog is not None:
            return catalog
        # The connection first, the lock second: a loader holding the lock while it waited
        # for a pooled connection, held by requests waiting for the lock, would wait forever.
        async with (connect or self._pool.acquire)() as conn, self._lock:
            catalog = self._catalog
            if catalog is None:
                generation = self._generation
                catalog = await self._load(conn)
                # An invalidation that arrived while loading means this snapshot may
                # already be stale: serve it to this caller, but do not keep it.
                if generation == self._generation:
                    self._catalog = catalog
            return catalog

    async def invalidate(self) -> None:
        self._generation += 1
        self._catalog = None


async def catalog_of(context: Context) -> Catalog:
    """The catalog snapshot a request reads."""
    return await context.shared.get(CatalogCache).get(context.db.acquire)
