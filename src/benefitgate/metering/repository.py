"""Every SQL statement of metering: raw events, counters, thresholds and denials."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from uuid import UUID

import asyncpg

from benefitgate.metering.rules import CounterDelta

__all__ = [
    "EventRow",
    "consume",
    "counter_value",
    "ensure_partitions",
    "insert_events",
    "mark_thresholds",
    "prune_event_ids",
    "record_denial",
    "upsert_counters",
    "upsert_daily",
]

# account, metric, client event id, value, occurred at, period start
EventRow = tuple[UUID, str, str, float, datetime, datetime]


async def ensure_partitions(conn: asyncpg.Connection, months: Sequence[date]) -> None:
    """Create the monthly partitions of usage_events that hold `months`, if missing.
    Run outside the ingest transaction: creating a partition locks the parent table."""
    await conn.execute("select ensure_usage_partition(m) from unnest($1::date[]) as m", months)


async def insert_events(
    conn: asyncpg.Connection, rows: Sequence[EventRow], received_at: datetime
) -> set[tuple[UUID, str]]:
    """Store the events whose (account, event id) was never seen; returns those stored.
    Rows must be sorted by (account, event id) so concurrent batches lock keys in order."""
    stored = await conn.fetch(
        """
        with input as (
            select * from unnest($1::uuid[], $2::text[], $3::text[], $4::numeric[],
                                 $5::timestamptz[], $6::timestamptz[])
                as t(account_id, metric_key, event_id, value, occurred_at, period_start)
        ), fresh as (
            insert into usage_event_ids (account_id, event_id, received_at)
            select account_id, event_id, $7 from input
            on conflict do nothing
            returning account_id, event_id
        ), written as (
            insert into usage_events
                (account_id, metric_key, event_id, value, occurred_at, received_at, period_start)
            select i.account_id, i.metric_key, i.event_id, i.value, i.occurred_at, $7,
                   i.period_start
            from input i join fresh f using (account_id, event_id)
            returning account_id, event_id
        )
        select account_id, event_id from written
        """,
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
        [r[3] for r in rows],
        [r[4] for r in rows],
        [r[5] for r in rows],
        received_at,
    )
    return {(r["account_id"], r["event_id"]) for r in stored}


# How each aggregation combines a stored value (`t`) with a batch's delta (`excluded`).
# An upsert's conflict arm sees only table columns, so each aggregation gets a statement of
# its own; a batch usually touches one aggregation, so this is one statement per table.
_COMBINE = {
    "sum": "t.value + excluded.value",
    "count": "t.value + excluded.value",
    "max": "greatest(t.value, excluded.value)",
    "latest": """
        case when excluded.last_event_at >= coalesce(t.last_event_at, '-infinity')
             then excluded.value else t.value end""",
}

_DELTAS = """
    unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::float8[],
           $6::timestamptz[])
        as d(account_id, metric_key, bucket, bucket_end, value, last_event_at)"""


async def upsert_counters(
    conn: asyncpg.Connection, deltas: Sequence[CounterDelta], now: datetime
) -> list[tuple[UUID, str, datetime, float]]:
    """Apply deltas to period counters; returns (account, metric, period start, new value)."""
    rows = []
    for aggregation, group in _by_aggregation(deltas):
        rows += await conn.fetch(
            f"""
            insert into usage_counters as t (account_id, metric_key, period_start,
                                              period_end, value, last_event_at, updated_at)
            select d.account_id, d.metric_key, d.bucket, d.bucket_end, d.value,
                   d.last_event_at, $7
            from {_DELTAS}
            on conflict (account_id, metric_key, period_start) do update set
                value = {_COMBINE[aggregation]},
                last_event_at = greatest(t.last_event_at, excluded.last_event_at),
                updated_at = excluded.updated_at
            returning account_id, metric_key, period_start, value
            """,  # noqa: S608 (constant expressions, no input)
            *_delta_columns(group),
            now,
        )
    return [(r["account_id"], r["metric_key"], r["period_start"], float(r["value"])) for r in rows]


async def upsert_daily(conn: asyncpg.Connection, deltas: Sequence[CounterDelta]) -> None:
    """Apply deltas to daily buckets (bucket = midnight UTC of the day)."""
    for aggregation, group in _by_aggregation(deltas):
        await conn.execute(
            f"""
            insert into usage_daily as t (account_id, metric_key, day, value, last_event_at)
            select d.account_id, d.metric_key, (d.bucket at time zone 'UTC')::date, d.value,
                   d.last_event_at
            from {_DELTAS}
            on conflict (account_id, metric_key, day) do update set
                value = {_COMBINE[aggregation]},
                last_event_at = greatest(t.last_event_at, excluded.last_event_at)
            """,  # noqa: S608 (constant expressions, no input)
            *_delta_columns(group),
        )


def _by_aggregation(
    deltas: Sequence[CounterDelta],
) -> list[tuple[str, list[CounterDelta]]]:
    """Deltas grouped by aggregation, each group still in the caller's (lock) order."""
    groups: dict[str, list[CounterDelta]] = {}
    for delta in deltas:
        groups.setdefault(delta.aggregation, []).append(delta)
    return sorted(groups.items())


def _delta_columns(deltas: Sequence[CounterDelta]) -> list[list[object]]:
    return [
        [d.account_id for d in deltas],
        [d.metric_key for d in deltas],
        [d.bucket for d in deltas],
        [d.bucket_end for d in deltas],
        [d.value for d in deltas],
        [d.last_event_at for d in deltas],
    ]


async def mark_thresholds(
    conn: asyncpg.Connection,
    crossings: Sequence[tuple[UUID, str, datetime, int]],
    now: datetime,
) -> list[tuple[UUID, str, datetime, int]]:
    """Record (account, metric, period start, threshold) crossings; returns the new ones."""
    rows = await conn.fetch(
        """
        insert into usage_thresholds (account_id, metric_key, period_start, threshold, crossed_at)
        select *, $5 from unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::smallint[])
        on conflict do nothing
        returning account_id, metric_key, period_start, threshold
        """,
        [c[0] for c in crossings],
        [c[1] for c in crossings],
        [c[2] for c in crossings],
        [c[3] for c in crossings],
        now,
    )
    return [(r["account_id"], r["metric_key"], r["period_start"], r["threshold"]) for r in rows]


async def _ensure_counter(
    conn: asyncpg.Connection, account_id: UUID, metric: str, start: datetime, end: datetime | None
) -> None:
    await conn.execute(
        """
        insert into usage_counters (account_id, metric_key, period_start, period_end, value)
        values ($1, $2, $3, $4, 0)
        on conflict do nothing
        """,
        account_id,
        metric,
        start,
        end,
    )


async def consume(
    conn: asyncpg.Connection,
    account_id: UUID,
    metric: str,
    period: tuple[datetime, datetime | None],
    amount: float,
    ceiling: float | None,
    now: datetime,
) -> float | None:
    """Add `amount` to the period's counter in one conditional UPDATE, so that under any
    concurrency the counter never passes `ceiling` (None: no ceiling). Returns the new
    value, or None when the ceiling denied it."""
    await _ensure_counter(conn, account_id, metric, *period)
    value = await conn.fetchval(
        """
        update usage_counters set value = value + $4, updated_at = $6
        where account_id = $1 and metric_key = $2 and period_start = $3
          and ($5::numeric is null or value + $4 <= $5)
        returning value
        """,
        account_id,
        metric,
        period[0],
        amount,
        ceiling,
        now,
    )
    return None if value is None else float(value)


async def counter_value(
    conn: asyncpg.Connection, account_id: UUID, metric: str, period_start: datetime
) -> float:
    value = await conn.fetchval(
        "select value from usage_counters"
        " where account_id = $1 and metric_key = $2 and period_start = $3",
        account_id,
        metric,
        period_start,
    )
    return 0.0 if value is None else float(value)


async def record_denial(
    conn: asyncpg.Connection, account_id: UUID, feature: str, reason: str, now: datetime
) -> None:
    await conn.execute(
        """
        insert into entitlement_denials as d
            (account_id, feature, reason, count, first_at, last_at)
        values ($1, $2, $3, 1, $4, $4)
        on conflict (account_id, feature, reason)
        do update set count = d.count + 1, last_at = greatest(d.last_at, excluded.last_at)
        """,
        account_id,
        feature,
        reason,
        now,
    )


async def prune_event_ids(conn: asyncpg.Connection, before: datetime) -> int:
    """Forget event ids received before `before` (past the accepted window)."""
    status = await conn.execute("delete from usage_event_ids where received_at < $1", before)
    return int(status.split()[-1])
