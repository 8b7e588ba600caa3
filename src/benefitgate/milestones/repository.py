"""Every SQL statement of milestones and achievements. Returns models, never records."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

from benefitgate.milestones.models import Achievement, Milestone, Reward

__all__ = [
    "achievements_by_accounts",
    "active_milestones",
    "create_milestone",
    "due_anniversaries",
    "insert_achievements",
    "lock_for_evaluation",
    "lock_milestone",
    "mark_evaluated",
    "replace_milestone",
    "set_grants",
    "streaks",
    "sustained_closings",
]

_COLUMNS = """key, name, description, kind, metric_key, threshold, periods, outcome_key,
              repeatable, reward_benefit_key, reward_amount, reward_days, active, created_at,
              version"""
_ACHIEVEMENT = "id, account_id, milestone_key, occurrence, achieved_at, value, grant_id"


def _num(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def _milestone(row: asyncpg.Record) -> Milestone:
    reward = None
    if row["reward_benefit_key"] is not None:
        reward = Reward(row["reward_benefit_key"], _num(row["reward_amount"]), row["reward_days"])
    return Milestone(
        key=row["key"],
        name=row["name"],
        description=row["description"],
        kind=row["kind"],
        metric_key=row["metric_key"],
        threshold=_num(row["threshold"]),
        periods=row["periods"],
        outcome_key=row["outcome_key"],
        repeatable=row["repeatable"],
        reward=reward,
        active=row["active"],
        created_at=row["created_at"],
        version=row["version"],
    )


def _achievement(row: asyncpg.Record) -> Achievement:
    return Achievement(**{**dict(row), "value": _num(row["value"])})


async def active_milestones(
    conn: asyncpg.Connection, kinds: Sequence[str] | None = None, *, inactive: bool = False
) -> list[Milestone]:
    """Active milestones (and inactive ones too, if asked) of the given kinds (all kinds
    when None), by key."""
    rows = await conn.fetch(
        f"""select {_COLUMNS} from milestones
            where (active or $2) and ($1::text[] is null or kind = any($1::text[]))
            order by key""",  # noqa: S608 (a constant column list, no input)
        None if kinds is None else list(kinds),
        inactive,
    )
    return [_milestone(r) for r in rows]


async def lock_for_evaluation(
    conn: asyncpg.Connection, key: str
) -> tuple[Milestone, datetime] | None:
    """The milestone and the time it was evaluated up to, locked; skipped (None) when
    another run holds it."""
    row = await conn.fetchrow(
        f"""select {_COLUMNS}, coalesce(evaluated_until, created_at) as since
            from milestones where key = $1 and active for update skip locked""",  # noqa: S608
        key,
    )
    return None if row is None else (_milestone(row), row["since"])


async def mark_evaluated(conn: asyncpg.Connection, key: str, until: datetime) -> None:
    await conn.execute("update milestones set evaluated_until = $2 where key = $1", key, until)


_DEFINITION = """name, description, kind, metric_key, threshold, periods, outcome_key,
                 repeatable, reward_benefit_key, reward_amount, reward_days, active"""


def _definition(m: Milestone) -> tuple[object, ...]:
    """The values of _DEFINITION's columns."""
    reward = m.reward
    return (
        m.name, m.description, m.kind, m.metric_key, m.threshold, m.periods, m.outcome_key,
        m.repeatable, reward.benefit_key if reward else None, reward.amount if reward else None,
        reward.days if reward else None, m.active,
    )  # fmt: skip


async def create_milestone(conn: asyncpg.Connection, m: Milestone) -> Milestone | None:
    """Create the milestone at version 1; None when its key exists, also when a concurrent
    create of the same key committed first (the insert waits for it)."""
    row = await conn.fetchrow(
        f"""
        insert into milestones (key, {_DEFINITION}, created_at)
        values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
        on conflict (key) do nothing
        returning {_COLUMNS}
        """,  # noqa: S608 (constant column lists, no input)
        m.key,
        *_definition(m),
        m.created_at,
    )
    return None if row is None else _milestone(row)


async def lock_milestone(conn: asyncpg.Connection, key: str) -> Milestone | None:
    row = await conn.fetchrow(
        f"select {_COLUMNS} from milestones where key = $1 for update",  # noqa: S608
        key,
    )
    return None if row is None else _milestone(row)


async def replace_milestone(conn: asyncpg.Connection, m: Milestone) -> Milestone:
    """Replace the definition of a milestone locked with `lock_milestone`; bumps its version."""
    row = await conn.fetchrow(
        f"""
        update milestones set ({_DEFINITION}) =
            ($2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13), version = version + 1
        where key = $1
        returning {_COLUMNS}
        """,  # noqa: S608 (constant column lists, no input)
        m.key,
        *_definition(m),
    )
    assert row is not None  # locked in this transaction
    return _milestone(row)


async def insert_achievements(
    conn: asyncpg.Connection,
    rows: Sequence[tuple[UUID, str, str, float | None]],
    at: datetime,
) -> list[Achievement]:
    """Insert (account, milestone, occurrence, value) rows set-wise; returns only those
    that did not exist, so each occurrence is achieved once whatever races."""
    if not rows:
        return []
    accounts, keys, occurrences, values = (list(c) for c in zip(*rows, strict=True))
    inserted = await conn.fetch(
        f"""
        insert into achievements ({_ACHIEVEMENT})
        select id, account_id, key, occurrence, $6, value, null
        from unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::float8[])
             as r(id, account_id, key, occurrence, value)
        order by account_id, key, occurrence
        on conflict (account_id, milestone_key, occurrence) do nothing
        returning {_ACHIEVEMENT}
        """,  # noqa: S608 (a constant column list, no input)
        [uuid.uuid4() for _ in rows],
        accounts,
        keys,
        occurrences,
        values,
        at,
    )
    return [_achievement(r) for r in inserted]


async def set_grants(conn: asyncpg.Connection, rewards: Sequence[tuple[UUID, UUID]]) -> None:
    """Note each (achievement, grant) reward, in one statement."""
    await conn.execute(
        """
        update achievements a set grant_id = r.grant_id
        from unnest($1::uuid[], $2::uuid[]) as r(id, grant_id)
        where a.id = r.id
        """,
        [achievement for achievement, _ in rewards],
        [grant for _, grant in rewards],
    )


async def achievements_by_accounts(
    conn: asyncpg.Connection, account_ids: Sequence[UUID]
) -> list[Achievement]:
    rows = await conn.fetch(
        f"""select {_ACHIEVEMENT} from achievements where account_id = any($1::uuid[])
            order by account_id, achieved_at desc, milestone_key""",  # noqa: S608
        list(account_ids),
    )
    return [_achievement(r) for r in rows]


async def due_anniversaries(
    conn: asyncpg.Connection, years: int, since: datetime, until: datetime
) -> list[tuple[UUID, datetime]]:
    """Accounts whose subscription reached its `years`th anniversary in (since, until],
    with that moment."""
    rows = await conn.fetch(
        """
        select account_id, started_at + make_interval(years => $1) as at
        from subscriptions
        where status <> 'canceled'
          and started_at + make_interval(years => $1) > $2
          and started_at + make_interval(years => $1) <= $3
        order by at, account_id
        """,
        years,
        since,
        until,
    )
    return [(r["account_id"], r["at"]) for r in rows]


_STREAK = """
    select count(*) from (
        select p.period_start, p.period_end, p.value from usage_counters p
        where p.account_id = c.account_id and p.metric_key = c.metric_key
          and p.period_end is not null and p.period_start <= c.period_start
        order by p.period_start desc limit $4) last
    where last.value >= $3
    having count(*) = $4 and sum(extract(epoch from last.period_end - last.period_start))
        = extract(epoch from max(last.period_end) - min(last.period_start))
"""


async def sustained_closings(
    conn: asyncpg.Connection, milestone: Milestone, since: datetime, until: datetime
) -> list[tuple[UUID, datetime, float]]:
    """(account, period start, value) of each period of the milestone's metric that closed
    in (since, until] and ended a run of `periods` consecutive periods (no gap between
    them) at or above the threshold."""
    rows = await conn.fetch(
        f"""
        select c.account_id, c.period_start, c.value from usage_counters c
        where c.metric_key = $1 and c.period_end > $5 and c.period_end <= $2
          and c.value >= $3 and exists ({_STREAK})
        order by c.account_id, c.period_start
        """,  # noqa: S608 (a constant subquery, no input)
        milestone.metric_key,
        until,
        milestone.threshold,
        milestone.periods,
        since,
    )
    return [(r["account_id"], r["period_start"], float(r["value"])) for r in rows]


async def streaks(
    conn: asyncpg.Connection,
    account_ids: Sequence[UUID],
    metric_key: str,
    threshold: float,
    now: datetime,
) -> dict[UUID, int]:
    """Per account, how many consecutive closed periods up to `now` ended at or above the
    threshold, counting back from the latest closed one."""
    rows = await conn.fetch(
        """
        with closed as (
            select account_id, period_start, period_end, value >= $3 as hit,
                   lag(period_end) over w is distinct from period_start as gap
            from usage_counters
            where account_id = any($1::uuid[]) and metric_key = $2
              and period_end is not null and period_end <= $4
            window w as (partition by account_id order by period_start)
        ), runs as (
            -- Walking back from the latest: a miss ends the run at that row, a gap just
            -- after the row that has it.
            select account_id, hit,
                   count(*) filter (where not hit) over newer_and_this
                   + count(*) filter (where gap) over newer as breaks
            from closed
            window newer_and_this as (partition by account_id order by period_start desc
                                      rows between unbounded preceding and current row),
                   newer as (partition by account_id order by period_start desc
                             rows between unbounded preceding and 1 preceding)
        )
        select account_id, count(*) filter (where hit and breaks = 0) as streak
        from runs group by account_id
        """,
        list(account_ids),
        metric_key,
        threshold,
        now,
    )
    return {r["account_id"]: r["streak"] for r in rows}
