"""Entitlement use cases for other domains."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

from benefitgate.entitlements import repository
from benefitgate.entitlements.models import Grant

__all__ = ["active_grants"]


async def active_grants(
    conn: asyncpg.Connection, account_ids: Sequence[UUID], now: datetime
) -> dict[UUID, list[Grant]]:
    return await repository.active_grants(conn, account_ids, now)
