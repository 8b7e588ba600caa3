"""Per-request DataLoaders, one per view root, each a fixed number of SQL statements."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg
from strawberry.dataloader import DataLoader

from benefitgate.accounts import service as accounts
from benefitgate.accounts.models import Account, AccountView
from benefitgate.cache import CatalogCache

__all__ = ["Loaders"]


class Loaders:
    def __init__(self, pool: asyncpg.Pool, catalog_cache: CatalogCache, now: datetime) -> None:
        self._pool = pool
        self._catalog_cache = catalog_cache
        self._now = now
        self.account_by_id = DataLoader[UUID, Account | None](load_fn=self._accounts)
        self.account_view_by_id = DataLoader[UUID, AccountView](load_fn=self._views)

    async def _accounts(self, ids: Sequence[UUID]) -> list[Account | None]:
        async with self._pool.acquire() as conn:
            found = await accounts.accounts_by_ids(conn, ids)
        return [found.get(i) for i in ids]

    async def _views(self, ids: Sequence[UUID]) -> list[AccountView]:
        """Views of accounts already loaded (and access-checked) by `account_by_id`."""
        loaded = await self.account_by_id.load_many(list(ids))
        catalog = await self._catalog_cache.get()
        present = [a for a in loaded if a is not None]
        async with self._pool.acquire() as conn:
            views = await accounts.views_of(conn, present, catalog, self._now)
        return [views[i] for i in ids]
