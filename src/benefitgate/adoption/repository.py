"""Every SQL statement of benefit adoption: allowed checks tallied, and the last use of
each benefit by check or by its metric's daily usage."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

import asyncpg

__all__ = ["last_checks", "last_metric_days", "record_uses"]

UseRow = tuple[UUID, str, int, datetime, datetime]  # account, benefit, count, first, last


async def record_uses(conn: asyncpg.Connection, uses: Sequence[UseRow]) -> None:
    """Add (account, benefit, count, first at, last at) to the use counters, in key order
    (concurrent flushes of several replicas cannot deadlock). The rows travel as one jsonb
    array, as `metering.repository.record_denials`'s do, for the same reason."""
    await conn.execute(
        """
        insert into benefit_uses as u (account_id, benefit_key, count, first_at, last_at)
        select (r->>0)::uuid, r->>1, (r->>2)::bigint, (r->>3)::timestamptz,
               (r->>4)::timestamptz
        from jsonb_array_elements($1::jsonb) as r
        order by 1, 2
        on conflict (account_id, benefit_key) do update set
            count = u.count + excluded.count,
            first_at = least(u.first_at, excluded.first_at),
            last_at = greatest(u.last_at, excluded.last_at)
        """,
        uses,
    )


async def last_checks(
    conn: asyncpg.Connection, account_ids: Sequence[UUID]
) -> dict[UUID, dict[str, datetime]]:
    rows = await conn.fetch(
        "select account_id, benefit_key, last_at from benefit_uses where account_id = any($1)",
        list(account_ids),
    )
    found: dict[UUID, dict[str, datetime]] = defaultdict(dict)
    for r in rows:
        found[r["account_id"]][r["benefit_key"]] = r["last_at"]
    return found


async def last_metric_days(
    conn: asyncpg.Connection, account_ids: Sequence[UUID], metric_keys: Sequence[str], since: date
) -> dict[UUID, dict[str, datetime]]:
    """The last day from `since` on with usage of each metric, as the end of that day."""
    rows = await conn.fetch(
        """
        select account_id, metric_key, max(day) as last_day from usage_daily
        where account_id = any($1) and metric_key = any($2) and day >= $3 and value > 0
        group by account_id, metric_key
        """,
        list(account_ids),
        list(metric_keys),
        since,
    )
    found: dict[UUID, dict[str, datetime]] = defaultdict(dict)
    for r in rows:
        end_of_day = datetime.combine(r["last_day"] + timedelta(days=1), time(), UTC)
        found[r["account_id"]][r["metric_key"]] = end_of_day - timedelta(microseconds=1)
    return found
