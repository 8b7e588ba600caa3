"""Every SQL statement that reads grants."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

from benefitgate.entitlements.models import Grant

__all__ = ["active_grants", "has_expired_grant"]


async def active_grants(
    conn: asyncpg.Connection, account_ids: Sequence[UUID], now: datetime
) -> dict[UUID, list[Grant]]:
    """Grants in force at `now` for each account, in one statement."""
    rows = await conn.fetch(
        """
        select id, account_id, benefit_key, source, amount, mode, valid_from, valid_until,
               revoked_at, created_at
        from grants
        where account_id = any($1::uuid[]) and revoked_at is null
          and valid_from <= $2 and (valid_until is null or valid_until > $2)
        order by created_at, id
        """,
        list(account_ids),
        now,
    )
    result: dict[UUID, list[Grant]] = defaultdict(list)
    for row in rows:
        amount = None if row["amount"] is None else float(row["amount"])
        result[row["account_id"]].append(Grant(**{**dict(row), "amount": amount}))
    return result


async def has_expired_grant(
    conn: asyncpg.Connection, account_id: UUID, benefit_key: str, now: datetime
) -> bool:
    """Whether the account once held the benefit through a grant that has run out."""
    found: bool = await conn.fetchval(
        """
        select exists (
            select 1 from grants
            where account_id = $1 and benefit_key = $2 and revoked_at is null
              and valid_until <= $3
        )
        """,
        account_id,
        benefit_key,
        now,
    )
    return found
