"""The account view's `health`, batched for every account of a request: the stored score
(one statement), or scored afresh for an account the health job has not scored yet."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from uuid import UUID

from strawberry.dataloader import DataLoader

from benefitgate.accounts.access import account_loader
from benefitgate.api.context import Context, Info
from benefitgate.catalog.cache import catalog_of
from benefitgate.health import service
from benefitgate.health.models import Scored
from benefitgate.health.types import AccountHealth, health_type

__all__ = ["account_health"]


def _health_loader(context: Context) -> DataLoader[UUID, Scored]:
    return DataLoader(load_fn=partial(_healths, context))


async def _healths(context: Context, ids: Sequence[UUID]) -> list[Scored]:
    loaded = await context.loader(account_loader).load_many(ids)
    found = [a for a in loaded if a is not None]
    catalog = await catalog_of(context)
    async with context.db.acquire() as conn:
        healths = await service.stored_health(conn, found, catalog, context.now)
    return [healths[i] for i in ids]


async def account_health(info: Info, account_id: UUID) -> AccountHealth:
    """The health of an account the caller was authorised for."""
    return health_type(await info.context.loader(_health_loader).load(account_id))
