"""Account lookups: accounts with their subscriptions, by id and in pages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from uuid import UUID

import asyncpg

from benefitgate.accounts import repository
from benefitgate.accounts.models import Account
from benefitgate.accounts.timeline import account_as_of
from benefitgate.catalog.models import Catalog, TierVersion
from benefitgate.usage.periods import Ended

MAX_EXTERNAL_ID = 255  # the column's own bound
# The ended billing periods read for an account at most: a backfill window of years of
# monthly periods is past any setting in use; before them, periods are stepped by term.
MAX_ENDED = 120

__all__ = [
    "account_tier",
    "accounts_as_of",
    "accounts_by_ids",
    "id_by_external_id",
    "page_of_account_ids",
    "with_ended_periods",
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


async def with_ended_periods(
    conn: asyncpg.Connection,
    accounts: Mapping[UUID, Account],
    since: datetime,
    count: int = MAX_ENDED,
) -> dict[UUID, Account]:
    """The accounts, each subscription knowing (`Subscription.ended`) up to `count` of
    the newest billing periods it ended after `since`, from the history and from the
    renewals it knows already (those `timeline.as_of` passed): one statement."""
    subscribed = [i for i, a in accounts.items() if a.subscription is not None]
    history = await repository.ended_periods(conn, subscribed, since, count) if subscribed else {}
    return {i: _knowing(a, history.get(i, ())) for i, a in accounts.items()}


def _knowing(account: Account, history: tuple[Ended, ...]) -> Account:
    sub = account.subscription
    if sub is None or not history:
        return account
    # A renewal both written and passed by as_of is the same period twice: either serves.
    known = {e.start: e for e in history} | {e.start: e for e in sub.ended}
    return replace(account, subscription=replace(sub, ended=tuple(known.values())))


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
