"""Per-request DataLoaders of the account view, one per view root, each a fixed number of
SQL statements."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from uuid import UUID

import asyncpg
from strawberry.dataloader import DataLoader

from benefitgate.accounts.access import account_loader
from benefitgate.accounts.models import Account
from benefitgate.api.context import Context
from benefitgate.catalog.cache import CatalogCache
from benefitgate.entitlements import service as entitlements
from benefitgate.entitlements.models import Grant
from benefitgate.milestones.standing import Standing, standings
from benefitgate.seats import service as seats
from benefitgate.seats.models import SeatAssignment
from benefitgate.suggestions import service as suggestions
from benefitgate.suggestions.models import Suggestion
from benefitgate.targets import service as targets
from benefitgate.targets.models import TargetProgress
from benefitgate.views.models import AccountView
from benefitgate.views.service import views_of

__all__ = ["Loaders"]


class Loaders:
    """The view's loaders of one request: `context.loader(Loaders)`."""

    def __init__(self, context: Context) -> None:
        pool, now, catalog_cache = context.pool, context.now, context.shared.get(CatalogCache)
        # Load functions are partials, not bound methods: a loader referring back to its
        # owner is a reference cycle, and every request's values would then wait for the
        # cyclic garbage collector.
        self.account_view_by_id = DataLoader[UUID, AccountView](
            load_fn=partial(_views, pool, catalog_cache, now, context.loader(account_loader))
        )
        self.target_progress_by_account = DataLoader[UUID, list[TargetProgress]](
            load_fn=partial(_target_progress, pool, catalog_cache, now)
        )
        self.grants_by_account = DataLoader[UUID, list[Grant]](load_fn=partial(_grants, pool, now))
        self.seats_by_account = DataLoader[UUID, list[SeatAssignment]](
            load_fn=partial(_seats, pool)
        )
        self.milestone_standing_by_account = DataLoader[UUID, Standing](
            load_fn=partial(_standings, pool, now)
        )
        self.suggestion_by_account = DataLoader[UUID, Suggestion | None](
            load_fn=partial(_suggestions, pool)
        )


async def _views(
    pool: asyncpg.Pool,
    catalog_cache: CatalogCache,
    now: datetime,
    account_by_id: DataLoader[UUID, Account | None],
    ids: Sequence[UUID],
) -> list[AccountView]:
    """Views of accounts already loaded (and access-checked) through `account_by_id`."""
    loaded = await account_by_id.load_many(list(ids))
    catalog = await catalog_cache.get()
    present = [a for a in loaded if a is not None]
    async with pool.acquire() as conn:
        views = await views_of(conn, present, catalog, now)
    return [views[i] for i in ids]


async def _target_progress(
    pool: asyncpg.Pool, catalog_cache: CatalogCache, now: datetime, ids: Sequence[UUID]
) -> list[list[TargetProgress]]:
    """Outcome targets of accounts already access-checked by the caller."""
    catalog = await catalog_cache.get()
    async with pool.acquire() as conn:
        progress = await targets.progress_by_account(conn, ids, catalog, now.astimezone(UTC).date())
    return [progress[i] for i in ids]


async def _grants(pool: asyncpg.Pool, now: datetime, ids: Sequence[UUID]) -> list[list[Grant]]:
    """Current grants of accounts already access-checked by the caller."""
    async with pool.acquire() as conn:
        found = await entitlements.current_grants(conn, ids, now)
    return [found.get(i, []) for i in ids]


async def _seats(pool: asyncpg.Pool, ids: Sequence[UUID]) -> list[list[SeatAssignment]]:
    """Held seats of accounts already access-checked by the caller."""
    async with pool.acquire() as conn:
        found = await seats.seats_by_account(conn, ids)
    return [found.get(i, []) for i in ids]


async def _standings(pool: asyncpg.Pool, now: datetime, ids: Sequence[UUID]) -> list[Standing]:
    """Milestone standings of accounts already access-checked by the caller."""
    async with pool.acquire() as conn:
        found = await standings(conn, ids, now)
    return [found[i] for i in ids]


async def _suggestions(pool: asyncpg.Pool, ids: Sequence[UUID]) -> list[Suggestion | None]:
    """Current suggestions of accounts already access-checked by the caller."""
    async with pool.acquire() as conn:
        found = await suggestions.current_by_accounts(conn, ids)
    return [found.get(i) for i in ids]
