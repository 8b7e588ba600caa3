"""The impact summary's own SQL: four reads over accounts and a range of days, each
folded by Postgres, so no statement returns more rows than months, periods, achievements
and grants. A read model over other domains' tables; targets come from their service.
Each read takes many accounts (the report job reads a batch at once); the one-account
forms are the same statements."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TypeVar
from uuid import UUID

import asyncpg

from benefitgate.entitlements.models import Grant
from benefitgate.impact.models import Achieved, CounterRow, DayRange, MonthRow

__all__ = [
    "achievements",
    "achievements_many",
    "counters",
    "counters_many",
    "grants",
    "grants_many",
    "months",
    "months_many",
]

_T = TypeVar("_T")
ByAccount = dict[UUID, list[_T]]


def _grouped(pairs: list[tuple[UUID, _T]]) -> ByAccount[_T]:
    found: ByAccount[_T] = defaultdict(list)
    for account_id, row in pairs:
        found[account_id].append(row)
    return found


async def months(conn: asyncpg.Connection, account_id: UUID, days: DayRange) -> list[MonthRow]:
    return (await months_many(conn, [account_id], days)).get(account_id, [])


async def months_many(
    conn: asyncpg.Connection, account_ids: Sequence[UUID], days: DayRange
) -> ByAccount[MonthRow]:
    rows = await conn.fetch(
        """
        select account_id, metric_key, date_trunc('month', day::timestamp)::date as month,
               sum(value)::float8 as total, max(value)::float8 as peak,
               ((array_agg(value order by day desc))[1])::float8 as last
        from usage_daily
        where account_id = any($1::uuid[]) and day between $2 and $3
          and metric_key not in (select key from metrics where aggregation = 'unique_count')
        group by account_id, metric_key, month
        union all
        -- A unique count's month is its distinct values over the month's days.
        select account_id, metric_key, date_trunc('month', day::timestamp)::date as month,
               count(distinct value)::float8, count(distinct value)::float8,
               count(distinct value)::float8
        from usage_unique_days
        where account_id = any($1::uuid[]) and day between $2 and $3
        group by account_id, metric_key, month
        order by account_id, metric_key, month
        """,
        list(account_ids),
        days.start,
        days.end,
    )
    return _grouped([(r["account_id"], _month(r)) for r in rows])


def _month(r: asyncpg.Record) -> MonthRow:
    return MonthRow(
        r["metric_key"], r["month"], float(r["total"]), float(r["peak"]), float(r["last"])
    )


async def counters(conn: asyncpg.Connection, account_id: UUID, days: DayRange) -> list[CounterRow]:
    return (await counters_many(conn, [account_id], days)).get(account_id, [])


async def counters_many(
    conn: asyncpg.Connection, account_ids: Sequence[UUID], days: DayRange
) -> ByAccount[CounterRow]:
    """Counters of the periods that overlap the range."""
    start, end = days.instants()
    rows = await conn.fetch(
        """
        select account_id, metric_key, period_start, period_end, value from usage_counters
        where account_id = any($1::uuid[]) and period_start < $3
          and (period_end is null or period_end > $2)
        order by account_id, metric_key, period_start
        """,
        list(account_ids),
        start,
        end,
    )
    return _grouped(
        [
            (
                r["account_id"],
                CounterRow(r["metric_key"], r["period_start"], r["period_end"], float(r["value"])),
            )
            for r in rows
        ]
    )


async def achievements(
    conn: asyncpg.Connection, account_id: UUID, days: DayRange
) -> list[Achieved]:
    return (await achievements_many(conn, [account_id], days)).get(account_id, [])


async def achievements_many(
    conn: asyncpg.Connection, account_ids: Sequence[UUID], days: DayRange
) -> ByAccount[Achieved]:
    start, end = days.instants()
    rows = await conn.fetch(
        """
        select a.account_id, a.milestone_key, m.name, a.occurrence, a.achieved_at,
               g.benefit_key as reward_benefit_key, g.amount as reward_amount
        from achievements a
        join milestones m on m.key = a.milestone_key
        left join grants g on g.id = a.grant_id
        where a.account_id = any($1::uuid[]) and a.achieved_at >= $2 and a.achieved_at < $3
        order by a.account_id, a.achieved_at, a.milestone_key
        """,
        list(account_ids),
        start,
        end,
    )
    return _grouped([(r["account_id"], _achieved(r)) for r in rows])


def _achieved(r: asyncpg.Record) -> Achieved:
    return Achieved(
        r["milestone_key"],
        r["name"],
        r["occurrence"],
        r["achieved_at"],
        r["reward_benefit_key"],
        None if r["reward_amount"] is None else float(r["reward_amount"]),
    )


async def grants(conn: asyncpg.Connection, account_id: UUID, days: DayRange) -> list[Grant]:
    return (await grants_many(conn, [account_id], days)).get(account_id, [])


async def grants_many(
    conn: asyncpg.Connection, account_ids: Sequence[UUID], days: DayRange
) -> ByAccount[Grant]:
    """Grants in force at some time within the range (revoked ones until their revocation)."""
    start, end = days.instants()
    rows = await conn.fetch(
        """
        select id, account_id, benefit_key, source, amount, mode, valid_from, valid_until,
               revoked_at, created_at, version
        from grants
        where account_id = any($1::uuid[]) and valid_from < $3
          and coalesce(least(valid_until, revoked_at), 'infinity') > $2  -- least skips nulls
          and coalesce(revoked_at, 'infinity') > valid_from
        order by account_id, valid_from, id
        """,
        list(account_ids),
        start,
        end,
    )
    return _grouped(
        [
            (
                r["account_id"],
                Grant(**{**dict(r), "amount": None if r["amount"] is None else float(r["amount"])}),
            )
            for r in rows
        ]
    )
