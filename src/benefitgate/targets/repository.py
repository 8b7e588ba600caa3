"""Every SQL statement of outcome targets."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from uuid import UUID

import asyncpg

from benefitgate.targets.models import OutcomeTarget

__all__ = ["delete_target", "lock_target", "targets_with_actuals", "upsert_target"]

_COLUMNS = "account_id, outcome_key, target, starts_on, ends_on, note, set_by, set_at"


def _target(row: asyncpg.Record) -> OutcomeTarget:
    return OutcomeTarget(
        account_id=row["account_id"],
        outcome_key=row["outcome_key"],
        target=float(row["target"]),
        starts_on=row["starts_on"],
        ends_on=row["ends_on"],
        note=row["note"],
        set_by=row["set_by"],
        set_at=row["set_at"],
    )


async def lock_target(
    conn: asyncpg.Connection, account_id: UUID, outcome_key: str
) -> OutcomeTarget | None:
    """The account's target for the outcome as it is, with the pair locked to the end of
    the caller's transaction: an advisory lock, so a pair without a target yet is locked
    too, and the state an audit entry records as `before` cannot change under it."""
    await conn.execute(
        "select pg_advisory_xact_lock(hashtextextended('outcome_target:' || $1, 0))",
        f"{account_id}/{outcome_key}",
    )
    row = await conn.fetchrow(
        f"""
        select {_COLUMNS} from outcome_targets where account_id = $1 and outcome_key = $2
        """,  # noqa: S608 (a constant column list, no input)
        account_id,
        outcome_key,
    )
    return None if row is None else _target(row)


async def upsert_target(conn: asyncpg.Connection, target: OutcomeTarget) -> bool:
    """Set the account's target for the outcome; False when it already was exactly this."""
    changed = await conn.fetchval(
        f"""
        insert into outcome_targets as t ({_COLUMNS}) values ($1, $2, $3, $4, $5, $6, $7, $8)
        on conflict (account_id, outcome_key) do update
            set target = excluded.target, starts_on = excluded.starts_on,
                ends_on = excluded.ends_on, note = excluded.note,
                set_by = excluded.set_by, set_at = excluded.set_at
            where (t.target, t.starts_on, t.ends_on, t.note)
                  is distinct from (excluded.target, excluded.starts_on, excluded.ends_on,
                                    excluded.note)
        returning true
        """,  # noqa: S608 (a constant column list, no input)
        target.account_id,
        target.outcome_key,
        target.target,
        target.starts_on,
        target.ends_on,
        target.note,
        target.set_by,
        target.set_at,
    )
    return bool(changed)


async def delete_target(
    conn: asyncpg.Connection, account_id: UUID, outcome_key: str
) -> OutcomeTarget | None:
    row = await conn.fetchrow(
        f"""
        delete from outcome_targets where account_id = $1 and outcome_key = $2
        returning {_COLUMNS}
        """,  # noqa: S608 (a constant column list, no input)
        account_id,
        outcome_key,
    )
    return None if row is None else _target(row)


async def targets_with_actuals(
    conn: asyncpg.Connection,
    account_ids: Sequence[UUID],
    today: date,
    since: date | None = None,
) -> list[tuple[OutcomeTarget, float | None]]:
    """Targets of the accounts in (account, outcome) order, each with the actual value of
    its outcome's metric over the target's days up to `today`: the total for sum and
    count, the peak for max, the last reading for latest, the distinct values for
    unique_count; None without a metric. With
    `since`, only targets overlapping `since` to `today`, over their days within it."""
    rows = await conn.fetch(
        f"""
        select {", ".join("t." + c for c in _COLUMNS.split(", "))},
               case when m.key is null then null
                    when m.aggregation = 'max' then a.peak
                    when m.aggregation = 'latest' then a.last_reading
                    when m.aggregation = 'unique_count' then (
                        select count(distinct u.value)::float8 from usage_unique_days u
                        where u.account_id = t.account_id and u.metric_key = m.key
                          and u.day between greatest(t.starts_on, $3) and least(t.ends_on, $2))
                    else coalesce(a.total, 0) end as actual
        from outcome_targets t
        join outcomes o on o.key = t.outcome_key
        left join metrics m on m.key = o.metric_key
        left join lateral (
            select sum(d.value) as total, max(d.value) as peak,
                   (array_agg(d.value order by d.day desc))[1] as last_reading
            from usage_daily d
            where d.account_id = t.account_id and d.metric_key = m.key
              and d.day between greatest(t.starts_on, $3) and least(t.ends_on, $2)
        ) a on true
        where t.account_id = any($1::uuid[])
          and ($3::date is null or (t.starts_on <= $2 and t.ends_on >= $3))
        order by t.account_id, t.outcome_key
        """,  # noqa: S608 (a constant column list, no input)
        list(account_ids),
        today,
        since,
    )
    return [(_target(r), None if r["actual"] is None else float(r["actual"])) for r in rows]
