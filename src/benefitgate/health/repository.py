"""Every SQL statement of account health. It reads what other domains wrote (daily usage,
seat assignments, entitlement denials, subscriptions) for many accounts at once, and
writes nothing."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from uuid import UUID

import asyncpg

__all__ = ["denied_features", "renewing", "seats_held", "usage_windows"]


async def usage_windows(
    conn: asyncpg.Connection, account_ids: Sequence[UUID], today: date
) -> dict[UUID, dict[str, tuple[float, float]]]:
    """Per account and metric: usage over the 30 days before the last 30, and over the
    last 30 (today included)."""
    rows = await conn.fetch(
        """
        select account_id, metric_key,
               coalesce(sum(value) filter (where day < $2::date - 29), 0) as before,
               coalesce(sum(value) filter (where day >= $2::date - 29), 0) as last
        from usage_daily
        where account_id = any($1::uuid[]) and day between $2::date - 59 and $2::date
        group by account_id, metric_key
        """,
        list(account_ids),
        today,
    )
    found: dict[UUID, dict[str, tuple[float, float]]] = defaultdict(dict)
    for r in rows:
        found[r["account_id"]][r["metric_key"]] = (float(r["before"]), float(r["last"]))
    return found


async def seats_held(conn: asyncpg.Connection, account_ids: Sequence[UUID]) -> dict[UUID, int]:
    rows = await conn.fetch(
        """
        select account_id, count(*) as held from seat_assignments
        where account_id = any($1::uuid[]) and released_at is null
        group by account_id
        """,
        list(account_ids),
    )
    return {r["account_id"]: r["held"] for r in rows}


async def denied_features(
    conn: asyncpg.Connection, account_ids: Sequence[UUID], since: datetime
) -> dict[UUID, int]:
    """Per account, the features denied at least once from `since` on."""
    rows = await conn.fetch(
        """
        select account_id, count(distinct feature) as features from entitlement_denials
        where account_id = any($1::uuid[]) and last_at >= $2
        group by account_id
        """,
        list(account_ids),
        since,
    )
    return {r["account_id"]: r["features"] for r in rows}


async def renewing(
    conn: asyncpg.Connection, first: date, last: date, partner_id: UUID | None
) -> list[UUID]:
    """Accounts whose live subscription renews between `first` and `last` (inclusive);
    only a partner's own when `partner_id` is set."""
    rows = await conn.fetch(
        """
        select s.account_id from subscriptions s
        where s.renewal_date between $1 and $2 and s.status <> 'canceled'
          and ($3::uuid is null or exists (
                select 1 from partner_accounts p
                where p.account_id = s.account_id and p.partner_id = $3))
        order by s.account_id
        """,
        first,
        last,
        partner_id,
    )
    return [r["account_id"] for r in rows]
