"""Every SQL statement that reads usage counters."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

__all__ = ["CounterKey", "counter_values"]

CounterKey = tuple[UUID, str, datetime]  # account, metric, period start


async def counter_values(
    conn: asyncpg.Connection, keys: Sequence[CounterKey]
) -> dict[CounterKey, float]:
    """Counter values for exact (account, metric, period start) keys, in one statement.
    Keys with no counter yet are absent (their usage is zero)."""
    if not keys:
        return {}
    rows = await conn.fetch(
        """
        select c.account_id, c.metric_key, c.period_start, c.value
        from unnest($1::uuid[], $2::text[], $3::timestamptz[])
             as k(account_id, metric_key, period_start)
        join usage_counters c using (account_id, metric_key, period_start)
        """,
        [k[0] for k in keys],
        [k[1] for k in keys],
        [k[2] for k in keys],
    )
    return {(r["account_id"], r["metric_key"], r["period_start"]): float(r["value"]) for r in rows}
