"""The catalog snapshot each process keeps, invalidated by outbox events.

The catalog is small and read by every view, so each process keeps one snapshot of it.
Postgres stays the source of truth: the snapshot is dropped when a catalog event commits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiocache import SimpleMemoryCache

from benefitgate.api.context import Context
from benefitgate.catalog.models import Catalog
from benefitgate.telemetry import metrics

__all__ = ["CatalogCache", "catalog_of"]

_KEY = "catalog"


class CatalogCache:
    """One catalog snapshot per process, loaded once however many requests miss at once."""

    def __init__(self, load: Callable[[], Awaitable[Catalog]]) -> None:
        self._load = load
        # timeout=None: the default wraps every call in asyncio.wait_for, which costs more
        # than the lookup itself on this hot path.
        self._cache = SimpleMemoryCache(timeout=None)
        self._lock = asyncio.Lock()
        self._generation = 0

    async def get(self) -> Catalog:
        catalog: Catalog | None = await self._cache.get(_KEY)
        metrics.cache_lookup("catalog", "process", catalog is not None)
        if catalog is not None:
            return catalog
        async with self._lock:
            catalog = await self._cache.get(_KEY)
            if catalog is None:
                generation = self._generation
                catalog = await self._load()
                # An invalidation that arrived while loading means this snapshot may
                # already be stale: serve it to this caller, but do not keep it.
                if generation == self._generation:
                    await self._cache.set(_KEY, catalog)
            return catalog

    async def invalidate(self) -> None:
        self._generation += 1
        await self._cache.delete(_KEY)


async def catalog_of(context: Context) -> Catalog:
    """The catalog snapshot a request reads."""
    return await context.shared.get(CatalogCache).get()
