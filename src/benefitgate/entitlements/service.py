"""Entitlement use cases for other domains."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

from benefitgate.entitlements import repository
from benefitgate.entitlements.models import Grant
from benefitgate.entitlements.precedence import effective_entitlements

__all__ = [
    "active_grants",
    "current_grants",
    "effective_entitlements",
    "has_expired_grant",
    "next_grant_change",
]


async def active_grants(
    conn: asyncpg.Connection, account_ids: Sequence[UUID], now: datetime
) -> dict[UUID, list[Grant]]:
    return await repository.active_grants(conn, account_ids, now)


async def current_grants(
    conn: asyncpg.Connection, account_ids: Sequence[UUID], now: datetime
) -> dict[UUID, list[Grant]]:
    return await repository.current_grants(conn, account_ids, now)


async def has_expired_grant(
    conn: asyncpg.Connection, account_id: UUID, benefit_key: str, now: datetime
) -> bool:
    return await repository.has_expired_grant(conn, account_id, benefit_key, now)


async def next_grant_change(
    conn: asyncpg.Connection, account_ids: Sequence[UUID], now: datetime
) -> datetime | None:
    """When the accounts' entitlements next change with time alone, as far as grants go."""
    return await repository.next_grant_change(conn, account_ids, now)
