"""The account view's `benchmarks`, batched for every account of a request."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from uuid import UUID

from strawberry.dataloader import DataLoader

from benefitgate.api.context import Context, Info
from benefitgate.benchmarks import service
from benefitgate.benchmarks.models import Benchmarks
from benefitgate.benchmarks.types import AccountBenchmarks, benchmarks_type
from benefitgate.catalog.cache import catalog_of
from benefitgate.catalog.types import catalog_types

__all__ = ["account_benchmarks"]


def _loader(context: Context) -> DataLoader[UUID, Benchmarks]:
    return DataLoader(load_fn=partial(_benchmarks, context))


async def _benchmarks(context: Context, ids: Sequence[UUID]) -> list[Benchmarks]:
    catalog = await catalog_of(context)
    async with context.db.acquire() as conn:
        found = await service.benchmarks_by_account(conn, ids, catalog, context.now)
    return [found[i] for i in ids]


async def account_benchmarks(info: Info, account_id: UUID) -> AccountBenchmarks:
    """The benchmarks of an account the caller was authorised for."""
    found = await info.context.loader(_loader).load(account_id)
    return benchmarks_type(found, catalog_types(await catalog_of(info.context)))
