"""Every SQL statement that reads usage counters."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from uuid import UUID

import asyncpg

from benefitgate.catalog.models import Metric
from benefitgate.usage.series import Bucket, SeriesPoint

__all__ = [
    "CounterKey",
    "GroupKey",
    "counter_values",
    "group_series",
    "group_values",
    "series_many",
]

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
        select c.account_id, c.metric_key, c.period_start, c.value::float8 as value
        from unnest($1::uuid[], $2::text[], $3::timestamptz[])
             as k(account_id, metric_key, period_start)
        join usage_counters c using (account_id, metric_key, period_start)
        """,
        [k[0] for k in keys],
        [k[1] for k in keys],
        [k[2] for k in keys],
    )
    return {(r["account_id"], r["metric_key"], r["period_start"]): r["value"] for r in rows}


async def series_many(
    conn: asyncpg.Connection,
    keys: Sequence[tuple[UUID, Metric]],
    first: date,
    last: date,
    bucket: Bucket,
) -> list[list[SeriesPoint]]:
    """The series of each (account, metric) of `keys`, in their order, over the same
    buckets of [first, last]: one statement whatever the number of keys. A unique count's
    point counts the distinct values of its days."""
    if not keys:
        return []
    rows = await conn.fetch(
        """
        select k.n, b.first_day, b.last_day,
               case k.aggregation when 'max' then agg.peak
                                  when 'latest' then agg.last_reading
                                  -- distinct over the bucket's days, not a sum of days'
                                  when 'unique_count' then (
                                      select count(distinct u.value)::float8
                                      from usage_unique_days u
                                      where u.account_id = k.account_id
                                        and u.metric_key = k.metric_key
                                        and u.day between b.first_day and b.last_day)
                                  else coalesce(agg.total, 0) end as value
        from unnest($1::uuid[], $2::text[], $3::text[])
             with ordinality as k(account_id, metric_key, aggregation, n)
        cross join (
            select greatest(s::date, $4::date) as first_day,
                   least((s + ('1 ' || $6)::interval)::date - 1, $5::date) as last_day
            from generate_series(date_trunc($6, $4::timestamp), $5::timestamp,
                                 ('1 ' || $6)::interval) as s
        ) b
        left join lateral (
            select sum(d.value) as total, max(d.value) as peak,
                   (array_agg(d.value order by d.day desc))[1] as last_reading
            from usage_daily d
            where d.account_id = k.account_id and d.metric_key = k.metric_key
              and d.day between b.first_day and b.last_day
        ) agg on true
        order by k.n, b.first_day
        """,
        [account_id for account_id, _ in keys],
        [metric.key for _, metric in keys],
        [metric.aggregation for _, metric in keys],
        first,
        last,
        bucket.value,
    )
    found: list[list[SeriesPoint]] = [[] for _ in keys]
    for r in rows:
        found[r["n"] - 1].append(SeriesPoint(r["first_day"], r["last_day"], _num(r["value"])))
    return found


def _num(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


async def group_series(
    conn: asyncpg.Connection,
    account_id: UUID,
    metric: Metric,
    first: date,
    last: date,
    bucket: Bucket,
    group_by: Sequence[str],
) -> list[tuple[date, str, float | None]]:
    """Each (bucket's first day, group, value) with usage in [first, last], from the
    groups' daily buckets, in one statement: a group is the values of `group_by` (JSON
    text), rolled up over the metric's other properties as a point of the series is (a
    latest gauge's as `group_values` says)."""
    rows = await conn.fetch(
        """
        select greatest(date_trunc($6, d.day)::date, $4::date) as first_day,
               (select jsonb_object_agg(k, d.dimensions -> k) from unnest($7::text[]) as k)::text
                   as dims,
               case $3 when 'max' then max(d.value)
                       when 'latest' then (array_agg(d.value order by d.day desc,
                           d.last_event_at desc, d.last_event_id collate "C" desc nulls last,
                           d.last_source collate "C" desc nulls last))[1]
                       else sum(d.value) end as value
        from usage_group_daily d
        where d.account_id = $1 and d.metric_key = $2 and d.day between $4 and $5
        group by 1, 2
        order by 2, 1
        """,
        account_id,
        metric.key,
        metric.aggregation,
        first,
        last,
        bucket.value,
        list(group_by),
    )
    return [(r["first_day"], r["dims"], _num(r["value"])) for r in rows]


# A period counter whose groups to read, and its metric's aggregation.
GroupKey = tuple[UUID, str, datetime, str]


async def group_values(
    conn: asyncpg.Connection, keys: Sequence[GroupKey], group_by: Sequence[str]
) -> list[list[tuple[str, float]]]:
    """For each key, the value of each group of `group_by` (JSON text) in its period, rolled
    up over the metric's other properties by its aggregation; in one statement.

    A latest gauge's finer groups give the newest reading, of readings at one time the
    greater event id, then source, as metering keeps each group's (and the total's):
    ordered by time alone, a tie took whichever group came first, so a region read 4
    where the total read 8. Groups written before migration 0029 have neither, and lose
    a tie, as they do when metering writes one."""
    rows = await conn.fetch(
        """
        select k.i,
               (select jsonb_object_agg(n, g.dimensions -> n) from unnest($5::text[]) as n)::text
                   as dims,
               case k.aggregation when 'max' then max(g.value)
                    when 'latest' then (array_agg(g.value order by g.last_event_at desc,
                        g.last_event_id collate "C" desc nulls last,
                        g.last_source collate "C" desc nulls last))[1]
                    else sum(g.value) end as value
        from unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::text[]) with ordinality
             as k(account_id, metric_key, period_start, aggregation, i)
        join usage_group_counters g using (account_id, metric_key, period_start)
        group by k.i, k.aggregation, 2
        order by k.i, 2
        """,
        [k[0] for k in keys],
        [k[1] for k in keys],
        [k[2] for k in keys],
        [k[3] for k in keys],
        list(group_by),
    )
    found: list[list[tuple[str, float]]] = [[] for _ in keys]
    for r in rows:
        found[r["i"] - 1].append((r["dims"], float(r["value"])))
    return found
