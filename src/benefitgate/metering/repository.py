"""Every SQL statement of metering: raw events, counters, thresholds and denials."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Final
from uuid import UUID

import asyncpg

from benefitgate.metering.rules import THRESHOLDS
from benefitgate.usage.periods import Period

__all__ = [
    "CounterKey",
    "CounterValue",
    "Crossing",
    "EventKey",
    "EventRow",
    "EventRows",
    "GroupedEvent",
    "Limit",
    "Report",
    "consume",
    "counter_value",
    "counter_values",
    "drop_partitions",
    "ensure_partitions",
    "groups_of",
    "lock_group_counters",
    "mark_thresholds",
    "prune_event_ids",
    "prune_unique_values",
    "record_denials",
    "record_events",
    "record_groups",
    "stored_event_keys",
]

# account, metric, period start, value
CounterValue = tuple[UUID, str, datetime, float]
# account, metric, period start
CounterKey = tuple[UUID, str, datetime]
# account, source, event id: what makes an event once
EventKey = tuple[UUID, str, str]


# One event as the write statement takes it: account, metric, source, event id, value,
# when it occurred, its period's start and end, aggregation, and the value a unique_count
# counts (None for other aggregations).
EventRow = tuple[UUID, str, str, str, float, datetime, datetime, datetime | None, str, str | None]
# One grouped event to count in its group: account, metric, period start, the group as
# JSON text, value, when it occurred, aggregation, event id and source (which break a
# `latest` gauge's ties, as in the total).
GroupedEvent = tuple[UUID, str, datetime, str, float, datetime, str, str, str]
# Places in an EventRow.
_ACCOUNT: Final = 0
_METRIC: Final = 1
_SOURCE: Final = 2
_EVENT_ID: Final = 3
_VALUE: Final = 4
_OCCURRED_AT: Final = 5
_PERIOD_START: Final = 6
_AGGREGATION: Final = 8


@dataclass(slots=True)
class EventRows:
    """A batch of events to store, a row each: the shape the statement takes. The rows
    travel as one jsonb array, which the connection's codec encodes with orjson: as ten
    array parameters, which asyncpg encodes element by element, their encoding was 16 % of
    a busy service's CPU."""

    rows: list[EventRow] = field(default_factory=list)

    def add(
        self,
        account_id: UUID,
        metric_key: str,
        source: str,
        event_id: str,
        value: float,
        occurred_at: datetime,
        period: Period,
        aggregation: str,
        unique: str | None = None,
    ) -> None:
        end = period.end
        self.rows.append(
            (
                account_id,
                metric_key,
                source,
                event_id,
                value,
                _utc(occurred_at),
                _utc(period.start),
                None if end is None else _utc(end),
                aggregation,
                unique,
            )
        )

    def grouped(self, position: int, group: str) -> GroupedEvent:
        """The event at `position` as `record_groups` takes it, in `group`."""
        row = self.rows[position]
        return (
            row[_ACCOUNT],
            row[_METRIC],
            row[_PERIOD_START],
            group,
            row[_VALUE],
            row[_OCCURRED_AT],
            row[_AGGREGATION],
            row[_EVENT_ID],
            row[_SOURCE],
        )

    def added(self, positions: Sequence[int]) -> dict[CounterKey, float]:
        """What the events at `positions` add to their cumulative (sum or count) counters."""
        added: dict[CounterKey, float] = {}
        for i in positions:
            row = self.rows[i]
            aggregation = row[_AGGREGATION]
            if aggregation in ("sum", "count"):
                key = (row[_ACCOUNT], row[_METRIC], row[_PERIOD_START])
                added[key] = added.get(key, 0.0) + (row[_VALUE] if aggregation == "sum" else 1.0)
        return added


def _utc(at: datetime) -> datetime:
    """`at` in UTC. orjson writes an offset's hours and minutes only: a time at +05:30:15
    (which DateTime variables may give) would reach the table 15 seconds off."""
    return at if at.tzinfo is UTC else at.astimezone(UTC)


async def ensure_partitions(conn: asyncpg.Connection, months: Sequence[date]) -> None:
    """Create the monthly partitions of usage_events that hold `months`, if missing.
    Run outside the ingest transaction: creating a partition locks the parent table."""
    await conn.execute("select ensure_usage_partition(m) from unnest($1::date[]) as m", months)


# A finite limit of an account's metric: account, metric, included amount.
Limit = tuple[UUID, str, float]
# A threshold of a limit crossed: account, metric, period start, threshold in percent.
Crossing = tuple[UUID, str, datetime, int]


@dataclass(frozen=True, slots=True)
class Report:
    """How the write statement reports the counters it changed, in its transaction: one
    outbox event of `event_type` per account (`{"counters": [{"metric", "periodStart",
    "value"}]}`), a wake-up on `outbox_channel`, and the accounts on `touch_channel`
    (`max_touched` to a notification), as `events.outbox.enqueue_many` and
    `events.touch.touch` would in statements of their own."""

    event_type: str
    outbox_channel: str
    touch_channel: str
    max_touched: int


async def record_events(
    conn: asyncpg.Connection,
    batch: EventRows,
    received_at: datetime,
    limits: Sequence[Limit] = (),
    report: Report | None = None,
) -> tuple[list[int], list[CounterValue], list[Crossing]]:
    """Store the events whose (account, source, event id) was never seen and fold them into
    their period counters and daily buckets, in one statement. Returns the positions (in
    `batch`) of the events stored, the new value of every counter they changed, and the
    thresholds of `limits` (positive ones) those counters crossed for the first time, each
    recorded in usage_thresholds by the same statement (its primary key makes a crossing
    happen once, whatever races). Each (account, source, event id) may appear once in
    `batch`; its text must hold no NUL character (jsonb, as text, cannot).

    Every write goes in (account, metric, bucket) or (account, source, event id) order, so
    that concurrent batches take their row locks in the same order and cannot deadlock.
    Recording the crossings here, rather than in a statement after it, spares the batch a
    round trip while it holds its counters' row locks; so does `report`, when given (the
    caller then notes the reported changes itself, `events.written`). The rows and the
    limits travel as jsonb arrays (`EventRows`)."""
    if report is None:
        row = await conn.fetchrow(_RECORD_EVENTS, batch.rows, received_at, limits)
    else:
        row = await conn.fetchrow(
            _RECORD_AND_REPORT,
            batch.rows,
            received_at,
            limits,
            report.event_type,
            report.outbox_channel,
            report.touch_channel,
            report.max_touched,
        )
    assert row is not None  # an aggregate without grouping always answers one row
    positions, account_ids, metric_keys, period_starts, values = row[:5]
    crossed = row[5:9]
    counters = list(zip(account_ids, metric_keys, period_starts, values, strict=True))
    crossings = list(zip(*(c or () for c in crossed), strict=True))
    return positions, counters, crossings


_COUNTER_UPSERT = """
    insert into usage_counters as t
        (account_id, metric_key, period_start, period_end, value, last_event_at, updated_at
         {columns})
    select account_id, metric_key, period_start, period_end, {delta}, max(occurred_at), $2
           {values}
    from accepted where aggregation = '{aggregation}'
    group by account_id, metric_key, period_start, period_end
    order by account_id, metric_key, period_start
    on conflict (account_id, metric_key, period_start) do update set
        value = {combine},
        last_event_at = greatest(t.last_event_at, excluded.last_event_at),
        updated_at = excluded.updated_at {sets}
    returning account_id, metric_key, period_start, value::float8"""

_DAILY_UPSERT = """
    insert into usage_daily as t (account_id, metric_key, day, value, last_event_at {columns})
    select account_id, metric_key, (occurred_at at time zone 'UTC')::date as day, {delta},
           max(occurred_at) {values}
    from accepted where aggregation = '{aggregation}'
    group by account_id, metric_key, day
    order by account_id, metric_key, day
    on conflict (account_id, metric_key, day) do update set
        value = {combine},
        last_event_at = greatest(t.last_event_at, excluded.last_event_at) {sets}"""

# Per aggregation: what a group of events adds to its bucket, and how that delta
# (`excluded`) combines with the stored value (`t`). Each aggregation gets upserts of its
# own: an upsert's conflict arm sees only table columns, and a grouping computes only its
# own aggregate (Postgres computes every aggregate of a select list, even those a `case`
# would discard). An upsert that no event of the batch needs writes nothing.
#
# Of readings of a `latest` gauge with the same time, the greater event id (in code point
# order) wins, then the greater source: in a batch, in its groups alike (they took the
# first of the batch, so a gauge's one group read 4 where its total read 8), and across
# batches, each bucket keeping its reading's id and source beside its time (the batch
# written last won a tie, so concurrent batches left either reading, by commit order).
_NEWEST = 'order by occurred_at desc, event_id collate "C" desc, source collate "C" desc'
_NEWER = """(excluded.last_event_at, excluded.last_event_id collate "C",
              excluded.last_source collate "C")
             >= (coalesce(t.last_event_at, '-infinity'), coalesce(t.last_event_id, ''),
                 coalesce(t.last_source, ''))"""
_AGGREGATIONS = {
    "sum": ("sum(value)", "t.value + excluded.value"),
    "count": ("count(*)::float8", "t.value + excluded.value"),
    "max": ("max(value)", "greatest(t.value, excluded.value)"),
    "latest": (
        f"(array_agg(value {_NEWEST}))[1]",
        f"case when {_NEWER} then excluded.value else t.value end",
    ),
}
# What a latest gauge's buckets keep besides (columns, their values, their updates).
_KEPT = {
    "columns": ", last_event_id, last_source",
    "values": f", (array_agg(event_id {_NEWEST}))[1], (array_agg(source {_NEWEST}))[1]",
    "sets": f""",
        last_event_id = case when {_NEWER} then excluded.last_event_id else t.last_event_id end,
        last_source = case when {_NEWER} then excluded.last_source else t.last_source end""",
}


def _upsert(template: str, kind: str, delta: str, combine: str) -> str:
    kept = _KEPT if kind == "latest" else dict.fromkeys(_KEPT, "")
    return template.format(aggregation=kind, delta=delta, combine=combine, **kept)


_UPSERTS = ",".join(
    f"counters_{kind} as ({_upsert(_COUNTER_UPSERT, kind, delta, combine)}),"
    f" daily_{kind} as ({_upsert(_DAILY_UPSERT, kind, delta, combine)})"
    for kind, (delta, combine) in _AGGREGATIONS.items()
)

# unique_count: the distinct values new to their period (or day) are inserted in key order,
# and each counter (or daily bucket) adds how many were. A value another batch inserted
# first, committed or not, is not new here: the primary key makes this batch wait for that
# one's outcome, so each distinct value is counted by exactly one batch.
_UNIQUE_UPSERTS = """
unique_new as (
    insert into usage_unique_values as t (account_id, metric_key, period_start, value)
    select distinct account_id, metric_key, period_start, unique_value
    from accepted where aggregation = 'unique_count'
    order by 1, 2, 3, 4
    on conflict do nothing
    returning account_id, metric_key, period_start
), unique_days_new as (
    insert into usage_unique_days as t (account_id, metric_key, day, value)
    select distinct account_id, metric_key, (occurred_at at time zone 'UTC')::date,
           unique_value
    from accepted where aggregation = 'unique_count'
    order by 1, 2, 3, 4
    on conflict do nothing
    returning account_id, metric_key, day
), counters_unique_count as (
    insert into usage_counters as t
        (account_id, metric_key, period_start, period_end, value, last_event_at, updated_at)
    select account_id, metric_key, period_start, p.period_end, n.added, p.last_at, $2
    from (select account_id, metric_key, period_start, count(*)::float8 as added
          from unique_new group by 1, 2, 3) as n
    join (select account_id, metric_key, period_start, max(period_end) as period_end,
                 max(occurred_at) as last_at
          from accepted where aggregation = 'unique_count' group by 1, 2, 3) as p
        using (account_id, metric_key, period_start)
    order by account_id, metric_key, period_start
    on conflict (account_id, metric_key, period_start) do update set
        value = t.value + excluded.value,
        last_event_at = greatest(t.last_event_at, excluded.last_event_at),
        updated_at = excluded.updated_at
    returning account_id, metric_key, period_start, value::float8
), daily_unique_count as (
    insert into usage_daily as t (account_id, metric_key, day, value, last_event_at)
    select account_id, metric_key, day, n.added, p.last_at
    from (select account_id, metric_key, day, count(*)::float8 as added
          from unique_days_new group by 1, 2, 3) as n
    join (select account_id, metric_key, (occurred_at at time zone 'UTC')::date as day,
                 max(occurred_at) as last_at
          from accepted where aggregation = 'unique_count' group by 1, 2, 3) as p
        using (account_id, metric_key, day)
    order by account_id, metric_key, day
    on conflict (account_id, metric_key, day) do update set
        value = t.value + excluded.value,
        last_event_at = greatest(t.last_event_at, excluded.last_event_at)
)"""

# The batch's rows (`EventRows`), one jsonb array each, and the limits (`Limit`s) as
# arrays of three. A value goes as JSON's shortest text of its float, which Postgres reads
# back to the same float8 (through an exact numeric); a time as RFC 3339 text in UTC, with
# its microseconds.
_INPUT = """input as (
    select (r->>0)::uuid as account_id, r->>1 as metric_key, r->>2 as source,
           r->>3 as event_id, (r->>4)::float8 as value, (r->>5)::timestamptz as occurred_at,
           (r->>6)::timestamptz as period_start, (r->>7)::timestamptz as period_end,
           r->>8 as aggregation, r->>9 as unique_value, position
    from jsonb_array_elements($1::jsonb) with ordinality as t(r, position)
)"""

_LIMITS = """(
    select (l->>0)::uuid as account_id, l->>1 as metric_key, (l->>2)::float8 as included
    from jsonb_array_elements($3::jsonb) as l
) as l"""

# Every aggregation whose counters the write statement changes.
_COUNTED = (*_AGGREGATIONS, "unique_count")

_RECORD_CTES = f"""
with {_INPUT}, fresh as (
    insert into usage_event_ids (account_id, source, event_id, received_at)
    select account_id, source, event_id, $2 from input order by account_id, source, event_id
    on conflict do nothing
    returning account_id, source, event_id
), accepted as (
    select i.* from input i join fresh f using (account_id, source, event_id)
), written as (
    insert into usage_events
        (account_id, metric_key, source, event_id, value, occurred_at, received_at, period_start)
    select account_id, metric_key, source, event_id, value, occurred_at, $2, period_start
    from accepted
),
{_UPSERTS},
{_UNIQUE_UPSERTS}
, changed as (
    {" union all ".join(f"select * from counters_{kind}" for kind in _COUNTED)}
), crossed as (
    -- The rule of `thresholds.crossed`: a threshold t of a positive limit is crossed by a
    -- value of at least included * t / 100 (computed in this order, as in Python).
    insert into usage_thresholds
        (account_id, metric_key, period_start, threshold, crossed_at)
    select c.account_id, c.metric_key, c.period_start, t.threshold, $2
    from changed c
    join {_LIMITS} using (account_id, metric_key)
    cross join unnest('{{{",".join(str(t) for t in THRESHOLDS)}}}'::smallint[]) as t(threshold)
    where l.included > 0 and c.value >= l.included * t.threshold / 100
    order by 1, 2, 3, 4
    on conflict do nothing
    returning account_id, metric_key, period_start, threshold
)"""  # noqa: S608 (constant expressions, no input)

# One row of arrays: a row for each stored event and each counter took the service half
# again as long to decode.
_ANSWER = """
select (select coalesce(array_agg((position - 1)::int), '{}') from accepted),
       coalesce(array_agg(account_id), '{}'), coalesce(array_agg(metric_key), '{}'),
       coalesce(array_agg(period_start), '{}'), coalesce(array_agg(value), '{}'),
       (select array_agg(account_id) from crossed), (select array_agg(metric_key) from crossed),
       (select array_agg(period_start) from crossed), (select array_agg(threshold) from crossed)
       /* reports */
from changed
"""

_RECORD_EVENTS = _RECORD_CTES + _ANSWER

# `Report`: the counters' usage events, one per account, and the two notifications, in
# the write statement (each a round trip after it, with the counters' row locks held,
# before). The period start is written as Python's `isoformat` writes a UTC instant. The
# CTEs that only notify are read by the answer, so that they run.
_REPORTS = """
, reported as (
    insert into events (type, account_id, payload)
    select $4, account_id,
           jsonb_build_object('counters', jsonb_agg(jsonb_build_object(
               'metric', metric_key,
               'periodStart', to_char(period_start at time zone 'UTC',
                   case when extract(microseconds from period_start)::int % 1000000 = 0
                        then 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"'
                        else 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"' end),
               'value', value)))
    from changed group by account_id order by account_id
    returning 1
), woken as (
    select pg_notify($5, '') from (select 1 from changed limit 1) as any_counter
), touched as (
    select pg_notify($6, string_agg(account_id::text, ',' order by account_id))
    from (select account_id, (row_number() over (order by account_id) - 1) / $7 as part
          from (select distinct account_id from changed) as a) as numbered
    group by part
)"""

_RECORD_AND_REPORT = (
    _RECORD_CTES
    + _REPORTS
    + _ANSWER.replace(
        "/* reports */",
        ", (select count(*) from reported), (select count(*) from woken),"
        " (select count(*) from touched)",
    )
)


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


async def consume(
    conn: asyncpg.Connection,
    account_id: UUID,
    metric: str,
    period: tuple[datetime, datetime | None],
    amount: float,
    ceiling: float | None,
    now: datetime,
) -> float | None:
    """Add `amount` to the period's counter, and to the daily bucket of `now`, in one
    statement, so that under any concurrency the counter never passes `ceiling` (None: no
    ceiling). Returns the new value, or None when the ceiling denied it (nothing written).

    The counter is created or added to by one upsert whose conflict arm re-checks the
    ceiling against the row it has locked; the daily bucket is written only when the
    counter was. A counter's value is never negative, so an amount above the ceiling is
    denied without a row. A denial of an existing counter still locks its row until the
    transaction ends (the conflict arm locks the row it checks): denials of one counter
    queue behind each other as consumptions do."""
    value = await conn.fetchval(
        """
        with counter as (
            insert into usage_counters as t
                (account_id, metric_key, period_start, period_end, value, updated_at)
            select $1::uuid, $2::text, $3::timestamptz, $4::timestamptz, $5::numeric,
                   $7::timestamptz
            where $6::numeric is null or $5 <= $6
            on conflict (account_id, metric_key, period_start) do update
                set value = t.value + excluded.value, updated_at = excluded.updated_at
                where $6::numeric is null or t.value + excluded.value <= $6
            returning value
        ), daily as (
            insert into usage_daily as d (account_id, metric_key, day, value, last_event_at)
            select $1, $2, ($7 at time zone 'UTC')::date, $5, $7 from counter
            on conflict (account_id, metric_key, day) do update set
                value = d.value + excluded.value,
                last_event_at = greatest(d.last_event_at, excluded.last_event_at)
        )
        select value from counter
        """,
        account_id,
        metric,
        period[0],
        period[1],
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


async def counter_values(conn: asyncpg.Connection, keys: Sequence[CounterKey]) -> list[float]:
    """The values of the counters of these (account, metric, period start) keys, in their
    order, 0 where a counter does not exist. The keys travel as one jsonb array, as
    `record_denials`'s rows do (as three arrays, their encoding was a tenth of a busy
    service's CPU on metric checks), and each answer names its key by its place: no uuid
    or instant to decode, and no key to hash, for each."""
    rows = await conn.fetch(
        """
        select k.place, c.value::float8
        from jsonb_array_elements($1::jsonb) with ordinality as k (key, place)
        join usage_counters c on c.account_id = (k.key->>0)::uuid
            and c.metric_key = k.key->>1 and c.period_start = (k.key->>2)::timestamptz
        """,
        keys,
    )
    values = [0.0] * len(keys)
    for place, value in rows:
        values[place - 1] = value
    return values


async def record_denials(
    conn: asyncpg.Connection, denials: Sequence[tuple[UUID, str, str, int, datetime, datetime]]
) -> None:
    """Add (account, feature, reason, count, first at, last at) to the denial counters, in
    key order (concurrent flushes of several replicas cannot deadlock). The rows travel as
    one jsonb array, which the connection's codec encodes with orjson: asyncpg encodes
    array parameters element by element, and 500 rows as six arrays held the event loop
    for 1.8 ms, against 0.3 ms as JSON."""
    await conn.execute(
        """
        insert into entitlement_denials as d
            (account_id, feature, reason, count, first_at, last_at)
        select (r->>0)::uuid, r->>1, r->>2, (r->>3)::bigint, (r->>4)::timestamptz,
               (r->>5)::timestamptz
        from jsonb_array_elements($1::jsonb) as r
        order by 1, 2, 3
        on conflict (account_id, feature, reason) do update set
            count = d.count + excluded.count,
            first_at = least(d.first_at, excluded.first_at),
            last_at = greatest(d.last_at, excluded.last_at)
        """,
        denials,
    )


async def prune_event_ids(conn: asyncpg.Connection, before: datetime) -> int:
    """Forget event ids received before `before` (past the dedup horizon)."""
    status = await conn.execute("delete from usage_event_ids where received_at < $1", before)
    return int(status.split()[-1])


async def prune_unique_values(conn: asyncpg.Connection, before: datetime) -> int:
    """Forget the distinct values of unique counts' periods that ended before `before`
    (no event can land in them any more: their counters hold the count)."""
    status = await conn.execute(
        """
        delete from usage_unique_values v using usage_counters c
        where c.account_id = v.account_id and c.metric_key = v.metric_key
          and c.period_start = v.period_start and c.period_end < $1
        """,
        before,
    )
    return int(status.split()[-1])


async def drop_partitions(conn: asyncpg.Connection, before: datetime) -> list[str]:
    """Drop the monthly partitions of usage_events that end at or before `before`; returns
    their names. Run outside the ingest transaction: a drop locks the parent table."""
    rows = await conn.fetch("select drop_usage_partitions($1) as name", before)
    return [r["name"] for r in rows]


async def lock_group_counters(conn: asyncpg.Connection, keys: Sequence[CounterKey]) -> None:
    """Take a transaction lock on each (account, metric, period start), in one order for
    every caller (that of the locks' keys), so that batches opening groups in the same
    periods queue instead of both passing the bound. A collision of two keys' hashes only
    makes two periods queue together. The keys travel as one jsonb array (`record_events`
    says why); each lock's key is hashed from the uuid and timestamptz they are read as."""
    await conn.execute(
        """
        select count(pg_advisory_xact_lock(h)) from (
            select distinct hashtextextended(a::text || '/' || m || '/' || p::text, 27) as h
            from (select (k->>0)::uuid as a, k->>1 as m, (k->>2)::timestamptz as p
                  from jsonb_array_elements($1::jsonb) as k) as k
            order by h offset 0
        ) as ordered
        """,
        keys,
    )


async def groups_of(
    conn: asyncpg.Connection, keys: Sequence[CounterKey]
) -> dict[CounterKey, list[str]]:
    """The groups counted so far in each (account, metric, period start), as jsonb text."""
    rows = await conn.fetch(
        """
        select c.account_id, c.metric_key, c.period_start, c.dimensions::text
        from jsonb_array_elements($1::jsonb) as k
        join usage_group_counters c on c.account_id = (k->>0)::uuid and c.metric_key = k->>1
            and c.period_start = (k->>2)::timestamptz
        """,
        keys,
    )
    found: dict[CounterKey, list[str]] = {}
    for r in rows:
        found.setdefault((r[0], r[1], r[2]), []).append(r[3])
    return found


async def stored_event_keys(conn: asyncpg.Connection, keys: Sequence[EventKey]) -> set[EventKey]:
    """Those of `keys` whose event was stored before (within the dedup horizon). The keys
    travel as one jsonb array, as `record_events`'s rows do."""
    rows = await conn.fetch(
        """
        select i.account_id, i.source, i.event_id
        from jsonb_array_elements($1::jsonb) as k
        join usage_event_ids i on i.account_id = (k->>0)::uuid and i.source = k->>1
            and i.event_id = k->>2
        """,
        keys,
    )
    return {(r[0], r[1], r[2]) for r in rows}


async def record_groups(conn: asyncpg.Connection, events: Sequence[GroupedEvent]) -> None:
    """Fold stored events into their groups' period counters and daily buckets, as
    `record_events` folds them into the totals (same aggregations, same lock order). The
    events travel as one jsonb array, as `record_events`'s rows do."""
    await conn.execute(_RECORD_GROUPS, events)


_GROUP_COUNTER_UPSERT = """
    insert into usage_group_counters as t
        (account_id, metric_key, period_start, dimensions, value, last_event_at {columns})
    select account_id, metric_key, period_start, dimensions, {delta}, max(occurred_at)
           {values}
    from input where aggregation = '{aggregation}'
    group by account_id, metric_key, period_start, dimensions
    order by account_id, metric_key, period_start, dimensions
    on conflict (account_id, metric_key, period_start, dimensions) do update set
        value = {combine},
        last_event_at = greatest(t.last_event_at, excluded.last_event_at) {sets}"""

_GROUP_DAILY_UPSERT = """
    insert into usage_group_daily as t
        (account_id, metric_key, day, dimensions, value, last_event_at {columns})
    select account_id, metric_key, (occurred_at at time zone 'UTC')::date as day, dimensions,
           {delta}, max(occurred_at) {values}
    from input where aggregation = '{aggregation}'
    group by account_id, metric_key, day, dimensions
    order by account_id, metric_key, day, dimensions
    on conflict (account_id, metric_key, day, dimensions) do update set
        value = {combine},
        last_event_at = greatest(t.last_event_at, excluded.last_event_at) {sets}"""

_GROUP_UPSERTS = ",".join(
    f"groups_{kind} as ({_upsert(_GROUP_COUNTER_UPSERT, kind, delta, combine)}),"
    f" group_days_{kind} as ({_upsert(_GROUP_DAILY_UPSERT, kind, delta, combine)})"
    for kind, (delta, combine) in _AGGREGATIONS.items()
)

_RECORD_GROUPS = f"""
with input as (
    select (r->>0)::uuid as account_id, r->>1 as metric_key,
           (r->>2)::timestamptz as period_start, (r->>3)::jsonb as dimensions,
           (r->>4)::float8 as value, (r->>5)::timestamptz as occurred_at,
           r->>6 as aggregation, r->>7 as event_id, r->>8 as source
    from jsonb_array_elements($1::jsonb) as r
),
{_GROUP_UPSERTS}
select 1
"""  # noqa: S608 (constant expressions, no input)
