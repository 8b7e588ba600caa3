"""Every SQL statement of credits. Lots are the rows of `grants` whose benefit is a
credit: read here, and locked here while a consumption draws from them (a grant's own
changes lock the same row, so they queue with draws)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from uuid import UUID

import asyncpg

from benefitgate.credits.models import Draw, Lot

__all__ = ["insert_draws", "lock_lots", "lots_of", "recent_draws"]

_LOT = """
    g.id as grant_id, g.account_id, g.benefit_key, coalesce(g.amount, 0) as amount,
    g.valid_from,
    case when g.revoked_at is null then g.valid_until
         when g.valid_until is null then g.revoked_at
         else least(g.valid_until, g.revoked_at) end as ends_at,
    coalesce((select sum(d.amount) from credit_draws d where d.grant_id = g.id), 0) as drawn
"""


def _lot(row: asyncpg.Record) -> Lot:
    return Lot(**dict(row))


async def lock_lots(
    conn: asyncpg.Connection, account_id: UUID, metric_key: str, now: datetime
) -> list[Lot]:
    """The account's lots of the credits the metric measures that are in force at `now`,
    locked to the end of the caller's transaction, so concurrent draws queue and none can
    take what another took. Only the lots the lock statement locked are read: the read
    that follows (a fresh snapshot, to see the draws of whoever held the locks before)
    also sees lots committed since the locks were taken, which no lock guards, so two
    consumptions could both draw on one of those."""
    locked = await conn.fetch(
        """
        select g.id from grants g join benefits b on b.key = g.benefit_key
        where g.account_id = $1 and b.kind = 'credit' and b.metric_key = $2
          and g.valid_from <= $3 and (g.valid_until is null or g.valid_until > $3)
          and (g.revoked_at is null or g.revoked_at > $3)
        order by g.id
        for update of g
        """,
        account_id,
        metric_key,
        now,
    )
    rows = await conn.fetch(
        f"""
        select {_LOT} from grants g join benefits b on b.key = g.benefit_key
        where g.account_id = $1 and b.kind = 'credit' and b.metric_key = $2
          and g.valid_from <= $3 and (g.valid_until is null or g.valid_until > $3)
          and (g.revoked_at is null or g.revoked_at > $3) and g.id = any($4::uuid[])
        """,  # noqa: S608 (a constant column list, no input)
        account_id,
        metric_key,
        now,
        [r["id"] for r in locked],
    )
    return [_lot(r) for r in rows]


async def insert_draws(
    conn: asyncpg.Connection,
    account_id: UUID,
    metric_key: str,
    event_id: str,
    takes: Sequence[tuple[UUID, Decimal]],
    at: datetime,
) -> None:
    await conn.execute(
        """
        insert into credit_draws (account_id, grant_id, metric_key, event_id, amount, at)
        select $1, t.grant_id, $2, $3, t.amount, $4
        from unnest($5::uuid[], $6::numeric[]) as t(grant_id, amount)
        """,
        account_id,
        metric_key,
        event_id,
        at,
        [grant for grant, _ in takes],
        [amount for _, amount in takes],
    )


async def lots_of(conn: asyncpg.Connection, account_ids: Sequence[UUID]) -> dict[UUID, list[Lot]]:
    """Every lot of the accounts, ended or not, with what was drawn from each."""
    rows = await conn.fetch(
        f"""
        select {_LOT} from grants g join benefits b on b.key = g.benefit_key
        where g.account_id = any($1::uuid[]) and b.kind = 'credit'
        order by g.account_id, g.valid_from, g.id
        """,  # noqa: S608 (a constant column list, no input)
        list(account_ids),
    )
    found: dict[UUID, list[Lot]] = defaultdict(list)
    for r in rows:
        found[r["account_id"]].append(_lot(r))
    return found


async def recent_draws(
    conn: asyncpg.Connection, account_ids: Sequence[UUID], limit: int
) -> dict[UUID, list[Draw]]:
    """The newest `limit` draws of each account."""
    rows = await conn.fetch(
        """
        select d.account_id, d.grant_id, d.metric_key, d.amount, d.at
        from unnest($1::uuid[]) as a(id)
        cross join lateral (
            select * from credit_draws where account_id = a.id order by id desc limit $2
        ) d
        """,
        list(account_ids),
        limit,
    )
    found: dict[UUID, list[Draw]] = defaultdict(list)
    for r in rows:
        found[r["account_id"]].append(Draw(**dict(r)))
    return found
