"""Who may see an account: the one place a resolver turns a client's account id into an
account it may read, with its subscription as it stands at the request's instant
(`timeline.as_of`: a trial past its end is over whether or not the scheduler has run)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial
from uuid import UUID

from strawberry.dataloader import DataLoader

from benefitgate.accounts import service
from benefitgate.accounts.models import Account
from benefitgate.accounts.timeline import account_as_of
from benefitgate.api.context import Context, Info, RequestConnection
from benefitgate.catalog.cache import CatalogCache

__all__ = ["account_loader", "visible_account"]


def account_loader(context: Context) -> DataLoader[UUID, Account | None]:
    """Accounts with their subscriptions as they stand at `context.now`, by id, for one
    request: `context.loader(...)`. Who primes it primes it with such accounts."""
    # A partial of the context's parts, not of the context: the context holds its loaders,
    # and a cycle would leave each request's values to the cyclic garbage collector.
    catalogs = context.shared.get(CatalogCache)
    return DataLoader[UUID, Account | None](
        load_fn=partial(_accounts, context.db, catalogs, context.now)
    )


async def _accounts(
    db: RequestConnection, catalogs: CatalogCache, now: datetime, ids: Sequence[UUID]
) -> list[Account | None]:
    catalog = await catalogs.get(db.acquire)  # before the connection: it may read it
    async with db.acquire() as conn:
        found = await service.accounts_by_ids(conn, ids)
    return [None if (a := found.get(i)) is None else account_as_of(a, catalog, now) for i in ids]


async def visible_account(info: Info, account_id: UUID) -> Account | None:
    """The account if it exists and the caller may see it. Unknown and invisible are the
    same None, so a caller never learns that an account it may not see exists."""
    account = await info.context.loader(account_loader).load(account_id)
    if account is None or not info.context.principal.can_see(account.id, account.partner_ids):
        return None
    return account
