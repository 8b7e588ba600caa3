"""Effective limits of accounts: their tier's limits as their active grants change them."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from uuid import UUID

import asyncpg

from benefitgate.accounts.models import Account
from benefitgate.accounts.service import account_tier
from benefitgate.catalog.models import Catalog
from benefitgate.entitlements import service as entitlements
from benefitgate.entitlements.models import EffectiveLimit, Grant
from benefitgate.entitlements.precedence import effective_limits

__all__ = ["limits_by_account", "limits_of"]


def limits_of(
    account: Account,
    grants: Sequence[Grant],
    catalog: Catalog,
    now: datetime,
    only: Collection[str] | None = None,
) -> dict[str, EffectiveLimit]:
    tier = account_tier(account, catalog)
    return effective_limits(tier, grants, catalog.benefits, now, only)


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
