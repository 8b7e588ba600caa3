"""Every SQL statement of peer benchmarks. Reads usage and subscriptions of every account
on the tiers of the accounts asked about; returns only each asked account's standing."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from uuid import UUID

import asyncpg

from benefitgate.benchmarks.models import Standing

__all__ = ["standings"]


async def standings(
    conn: asyncpg.Connection, account_ids: Sequence[UUID], first: date, last: date
) -> dict[UUID, list[Standing]]:
    """Each account's standing on every metric among its peers: the other accounts whose
    live subscription is on the same tier (any version), each valued over the days `first`
    to `last` as a series point is (sum and count: the total; max: the peak; latest: the
    last reading; no usage: 0). One statement, ranking each tier once."""
    rows = await conn.fetch(
        """
        with tier_of as (
            select s.account_id, tv.tier_key
            from subscriptions s join tier_versions tv on tv.id = s.tier_version_id
            where s.status <> 'canceled'
        ),
        cohort as (
            select * from tier_of
            where tier_key in (select tier_key from tier_of where account_id = any($1::uuid[]))
        ),
        month as (
            select d.account_id, d.metric_key, sum(d.value) as total, max(d.value) as peak,
                   (array_agg(d.value order by d.day desc))[1] as last_reading
            from usage_daily d
            where d.day between $2 and $3 and d.account_id in (select account_id from cohort)
            group by d.account_id, d.metric_key
        ),
        valued as (
            select c.account_id, c.tier_key, m.key as metric_key,
                   case when m.aggregation = 'max' then coalesce(a.peak, 0)
                        when m.aggregation = 'latest' then coalesce(a.last_reading, 0)
                        else coalesce(a.total, 0) end as value
            from cohort c cross join metrics m
            left join month a on a.account_id = c.account_id and a.metric_key = m.key
        ),
        ranked as (
            -- Each account against the others of its tier: rank - 1 counts the lower
            -- values; the counts less one leave the account itself out.
            select account_id, metric_key,
                   count(*) over (partition by tier_key, metric_key) - 1 as peers,
                   rank() over (partition by tier_key, metric_key order by value) - 1 as below,
                   count(*) over (partition by tier_key, metric_key, value) - 1 as equal
            from valued
        )
        select account_id, metric_key, peers, below, equal from ranked
        where account_id = any($1::uuid[])
        order by account_id, metric_key
        """,
        list(account_ids),
        first,
        last,
    )
    found: dict[UUID, list[Standing]] = defaultdict(list)
    for r in rows:
        found[r["account_id"]].append(Standing(r["metric_key"], r["peers"], r["below"], r["equal"]))
    return found
