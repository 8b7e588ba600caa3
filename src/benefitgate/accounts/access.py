"""Who may see an account: the one place a resolver turns a client's account id into an
account it may read."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from uuid import UUID

from strawberry.dataloader import DataLoader

from benefitgate.accounts import service
from benefitgate.accounts.models import Account
from benefitgate.api.context import Context, Info, RequestConnection

__all__ = ["account_loader", "visible_account"]


def account_loader(context: Context) -> DataLoader[UUID, Account | None]:
    """Accounts with their subscriptions by id, for one request: `context.loader(...)`."""
    return DataLoader[UUID, Account | None](load_fn=partial(_accounts, context.db))


async def _accounts(db: RequestConnection, ids: Sequence[UUID]) -> list[Account | None]:
    async with db.acquire() as conn:
        found = await service.accounts_by_ids(conn, ids)
    return [found.get(i) for i in ids]


async def visible_account(info: Info, account_id: UUID) -> Account | None:
    """The account if it exists and the caller may see it. Unknown and invisible are the
    same None, so a caller never learns that an account it may not see exists."""
    account = await info.context.loader(account_loader).load(account_id)
    if account is None or not info.context.principal.can_see(account.id, account.partner_ids):
        return None
    return account
