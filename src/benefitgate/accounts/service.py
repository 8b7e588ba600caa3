"""Account use cases: loading accounts and their benefit views."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from uuid import UUID

import asyncpg

from benefitgate.accounts import repository
from benefitgate.accounts.models import Account, AccountView
from benefitgate.catalog.models import Catalog
from benefitgate.entitlements import service as entitlements
from benefitgate.entitlements.models import EffectiveLimit
from benefitgate.usage import service as usage
from benefitgate.views.assembly import (
    account_tier,
    build_view,
    limits_of,
    metric_periods,
    usage_rows,
)

__all__ = [
    "account_tier",
    "accounts_by_ids",
    "limits_by_account",
    "page_of_account_ids",
    "views_of",
]


async def accounts_by_ids(conn: asyncpg.Connection, ids: Sequence[UUID]) -> dict[UUID, Account]:
    return await repository.accounts_by_ids(conn, ids)


async def page_of_account_ids(
    conn: asyncpg.Connection, *, after: UUID | None, limit: int, partner_id: UUID | None
) -> list[UUID]:
    return await repository.page_of_account_ids(
        conn, after=after, limit=limit, partner_id=partner_id
    )


async def views_of(
    conn: asyncpg.Connection, accounts: Sequence[Account], catalog: Catalog, now: datetime
) -> dict[UUID, AccountView]:
    """Benefit views of many accounts in two statements, whatever their sizes."""
    grants = await entitlements.active_grants(conn, [a.id for a in accounts], now)
    limits = {a.id: limits_of(a, grants.get(a.id, []), catalog, now) for a in accounts}
    periods = {a.id: metric_periods(a, limits[a.id], catalog, now) for a in accounts}
    keys = [(a.id, metric, p.start) for a in accounts for metric, p in periods[a.id].items()]
    counters = await usage.counter_values(conn, keys)
    return {
        a.id: build_view(
            a,
            catalog,
            grants.get(a.id, []),
            limits[a.id],
            usage_rows(a, limits[a.id], periods[a.id], counters, catalog, now),
            now,
        )
        for a in accounts
    }


async def limits_by_account(
    conn: asyncpg.Connection,
    accounts: Sequence[Account],
    catalog: Catalog,
    now: datetime,
    only: Collection[str] | None = None,
) -> dict[UUID, Mapping[str, EffectiveLimit]]:
    """The effective limit of every metric (of those in `only`, when given), per account,
    in one statement. Accounts without grants on the same tier share one read-only mapping:
    their limits are the tier's, and most accounts of a batch are such."""
    grants = await entitlements.active_grants(conn, [a.id for a in accounts], now)
    by_tier: dict[int | None, Mapping[str, EffectiveLimit]] = {}
    limits: dict[UUID, Mapping[str, EffectiveLimit]] = {}
    for account in accounts:
        own = grants.get(account.id)
        if own:
            limits[account.id] = limits_of(account, own, catalog, now, only)
            continue
        tier = None if account.subscription is None else account.subscription.tier_version_id
        if tier not in by_tier:
            by_tier[tier] = MappingProxyType(limits_of(account, [], catalog, now, only))
        limits[account.id] = by_tier[tier]
    return limits
