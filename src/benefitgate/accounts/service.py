"""Account lookups: accounts with their subscriptions, by id and in pages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

from benefitgate.accounts import repository
from benefitgate.accounts.models import Account
from benefitgate.accounts.timeline import account_as_of
from benefitgate.catalog.models import Catalog, TierVersion

MAX_EXTERNAL_ID = 255  # the column's own bound

__all__ = [
    "account_tier",
    "accounts_as_of",
    "accounts_by_ids",
    "id_by_external_id",
    "page_of_account_ids",
]


async def accounts_by_ids(
    conn: asyncpg.Connection, ids: Sequence[UUID | str], external_ids: Sequence[str] = ()
) -> dict[UUID, Account]:
    """The accounts with one of `ids` (UUIDs, or their canonical text) or one of
    `external_ids`, by id."""
    return await repository.accounts_by_ids(conn, ids, external_ids)


async def accounts_as_of(
    conn: asyncpg.Connection, ids: Sequence[UUID], catalog: Catalog, now: datetime
) -> dict[UUID, Account]:
    """The accounts with one of `ids`, by id, each with its subscription as it stands at
    `now` (`timeline.account_as_of`): what a job or a write that acts on the account's
    current period, tier or renewal must read, since the stored row lags until the
    scheduler writes the steps due."""
    found = await repository.accounts_by_ids(conn, ids)
    return {i: account_as_of(a, catalog, now) for i, a in found.items()}


async def id_by_external_id(conn: asyncpg.Connection, external_id: str) -> UUID | None:
    if not 0 < len(external_id) <= MAX_EXTERNAL_ID:
        return None  # no account can hold it
    return await repository.id_by_external_id(conn, external_id)


async def page_of_account_ids(
    conn: asyncpg.Connection, *, after: UUID | None, limit: int, partner_id: UUID | None
) -> list[UUID]:
    return await repository.page_of_account_ids(
        conn, after=after, limit=limit, partner_id=partner_id
    )


def account_tier(account: Account, catalog: Catalog) -> TierVersion | None:
    sub = account.subscription
    return None if sub is None else catalog.versions.get(sub.tier_version_id)
