"""The impact summary's own SQL: four reads over one account and a range of days, each
folded by Postgres, so no statement returns more rows than months, periods, achievements
and grants. A read model over other domains' tables; targets come from their service."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from uuid import UUID

import asyncpg

from benefitgate.entitlements.models import Grant
from benefitgate.impact.models import Achieved, CounterRow, DayRange, MonthRow

__all__ = ["achievements", "counters", "grants", "months"]


def _bounds(days: DayRange) -> tuple[datetime, datetime]:
    """The range as instants: from its first midnight (UTC) to the midnight after it."""
    start = datetime.combine(days.start, time(), UTC)
    return start, datetime.combine(days.end + timedelta(days=1), time(), UTC)


async def months(conn: asyncpg.Connection, account_id: UUID, days: DayRange) -> list[MonthRow]:
    rows = await conn.fetch(
        """
        select metric_key, date_trunc('month', day::timestamp)::date as month,
               sum(value)::float8 as total, max(value)::float8 as peak,
               ((array_agg(value order by day desc))[1])::float8 as last
        from usage_daily
        where account_id = $1 and day between $2 and $3
          and metric_key not in (select key from metrics where aggregation = 'unique_count')
        group by metric_key, month
        union all
        -- A unique count's month is its distinct values over the month's days.
        select metric_key, date_trunc('month', day::timestamp)::date as month,
               count(distinct value)::float8, count(distinct value)::float8,
               count(distinct value)::float8
        from usage_unique_days
        where account_id = $1 and day between $2 and $3
        group by metric_key, month
        order by metric_key, month
        """,
        account_id,
        days.start,
        days.end,
    )
    return [
        MonthRow(r["metric_key"], r["month"], float(r["total"]), float(r["peak"]), float(r["last"]))
        for r in rows
    ]


async def counters(conn: asyncpg.Connection, account_id: UUID, days: DayRange) -> list[CounterRow]:
    """Counters of the periods that overlap the range."""
    start, end = _bounds(days)
    rows = await conn.fetch(
        """
        select metric_key, period_start, period_end, value from usage_counters
        where account_id = $1 and period_start < $3
          and (period_end is null or period_end > $2)
        order by metric_key, period_start
        """,
        account_id,
        start,
        end,
    )
    return [
        CounterRow(r["metric_key"], r["period_start"], r["period_end"], float(r["value"]))
        for r in rows
    ]


async def achievements(
    conn: asyncpg.Connection, account_id: UUID, days: DayRange
) -> list[Achieved]:
    start, end = _bounds(days)
    rows = await conn.fetch(
        """
        select a.milestone_key, m.name, a.occurrence, a.achieved_at,
               g.benefit_key as reward_benefit_key, g.amount as reward_amount
        from achievements a
        join milestones m on m.key = a.milestone_key
        left join grants g on g.id = a.grant_id
        where a.account_id = $1 and a.achieved_at >= $2 and a.achieved_at < $3
        order by a.achieved_at, a.milestone_key
        """,
        account_id,
        start,
        end,
    )
    return [
        Achieved(
            r["milestone_key"],
            r["name"],
            r["occurrence"],
            r["achieved_at"],
            r["reward_benefit_key"],
            None if r["reward_amount"] is None else float(r["reward_amount"]),
        )
        for r in rows
    ]


async def grants(conn: asyncpg.Connection, account_id: UUID, days: DayRange) -> list[Grant]:
    """Grants in force at some time within the range (revoked ones until their revocation)."""
    start, end = _bounds(days)
    rows = await conn.fetch(
        """
        select id, account_id, benefit_key, source, amount, mode, valid_from, valid_until,
               revoked_at, created_at, version
        from grants
        where account_id = $1 and valid_from < $3
          and coalesce(least(valid_until, revoked_at), 'infinity') > $2  -- least skips nulls
          and coalesce(revoked_at, 'infinity') > valid_from
        order by valid_from, id
        """,
        account_id,
        start,
        end,
    )
    return [
        Grant(**{**dict(r), "amount": None if r["amount"] is None else float(r["amount"])})
        for r in rows
    ]
