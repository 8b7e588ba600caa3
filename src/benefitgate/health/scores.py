"""Every SQL statement of the stored health scores (migration 0027): the rounds that write
them, the marks that make an account due, and the reads of the ranking as it stood at one
round's instant."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from benefitgate.health.models import Factor, Health, Scored

__all__ = [
    "begin_round",
    "claim_due",
    "current",
    "end_round",
    "mark",
    "page",
    "prune",
    "ranked_at",
    "record",
]

_TICK = timedelta(microseconds=1)  # Postgres's resolution: rounds a tick apart are distinct


def _factors(h: Health) -> list[dict[str, Any]]:
    return [
        {"key": f.key, "score": f.score, "weight": f.weight, "detail": f.detail} for f in h.factors
    ]


def _scored(r: asyncpg.Record) -> Scored:
    factors = [Factor(f["key"], f["score"], f["weight"], f["detail"]) for f in r["factors"]]
    return Scored(Health(r["account_id"], r["score"], factors), r["renews_on"], r["scored_at"])


async def begin_round(conn: asyncpg.Connection, now: datetime) -> datetime:
    """Lock the ranking's row until the caller's transaction ends and return this round's
    instant: `now`, or just after the last round's when that is not earlier. Rounds are
    thus written one at a time, each after the one before, so a reader that saw a round
    committed has seen every row valid at its instant."""
    last = await conn.fetchval("select ranked_at from health_ranking for update")
    return now if last is None or now > last else last + _TICK


async def end_round(conn: asyncpg.Connection, at: datetime) -> None:
    await conn.execute("update health_ranking set ranked_at = $1", at)


async def ranked_at(conn: asyncpg.Connection) -> datetime | None:
    """The last committed round's instant; None before the first."""
    found: datetime | None = await conn.fetchval("select ranked_at from health_ranking")
    return found


async def mark(conn: asyncpg.Connection, account_ids: Sequence[UUID], now: datetime) -> None:
    await conn.execute(
        """
        insert into health_marks (account_id, marked_at)
        select id, $2 from accounts where id = any($1::uuid[])
        on conflict (account_id) do nothing
        """,
        sorted(set(account_ids)),
        now,
    )


async def claim_due(conn: asyncpg.Connection, stale_before: datetime, limit: int) -> list[UUID]:
    """Up to `limit` accounts to score: marked ones first (their marks removed with the
    caller's transaction), then those never scored or last scored before `stale_before`."""
    marked = await conn.fetch(
        """
        delete from health_marks where account_id in (
            select account_id from health_marks order by marked_at, account_id limit $1)
        returning account_id
        """,
        limit,
    )
    found = [r["account_id"] for r in marked]
    if len(found) < limit:
        rows = await conn.fetch(
            """
            select a.id from accounts a
            left join health_scores h on h.account_id = a.id and h.valid_until is null
            where (h.account_id is null or h.scored_at < $1) and not a.id = any($3::uuid[])
            order by a.id limit $2
            """,
            stale_before,
            limit - len(found),
            found,
        )
        found += [r["id"] for r in rows]
    return found


async def record(
    conn: asyncpg.Connection, scored: Sequence[tuple[Health, date | None]], at: datetime
) -> int:
    """Write a round's scores at `at` (inside `begin_round`'s transaction): an account
    whose score, factors and renewal date are unchanged keeps its row, found again at
    `at`; any other gets a new row from `at`, its old one closed there. Returns how many
    rows were opened."""
    ids = [h.account_id for h, _ in scored]
    rows = await conn.fetch(
        "select account_id, score, factors, renews_on from health_scores "
        "where account_id = any($1::uuid[]) and valid_until is null",
        ids,
    )
    before = {r["account_id"]: (r["score"], r["factors"], r["renews_on"]) for r in rows}
    same: list[Health] = []
    changed: list[tuple[Health, date | None]] = []
    for h, renews_on in scored:
        if before.get(h.account_id) == (h.score, _factors(h), renews_on):
            same.append(h)
        else:
            changed.append((h, renews_on))
    await conn.execute(
        "update health_scores set scored_at = $2 "
        "where account_id = any($1::uuid[]) and valid_until is null",
        [h.account_id for h in same],
        at,
    )
    await conn.execute(
        "update health_scores set valid_until = $2 "
        "where account_id = any($1::uuid[]) and valid_until is null",
        [h.account_id for h, _ in changed],
        at,
    )
    await conn.executemany(
        "insert into health_scores (account_id, score, factors, renews_on, valid_from, "
        "scored_at) values ($1, $2, $3, $4, $5, $5)",
        [(h.account_id, h.score, _factors(h), renews_on, at) for h, renews_on in changed],
    )
    return len(changed)


async def prune(conn: asyncpg.Connection, ended_before: datetime) -> None:
    """Remove the rows that stopped being current before `ended_before`."""
    await conn.execute("delete from health_scores where valid_until < $1", ended_before)


async def current(conn: asyncpg.Connection, account_ids: Sequence[UUID]) -> dict[UUID, Scored]:
    """The accounts' current scores; an account never scored is missing."""
    rows = await conn.fetch(
        "select account_id, score, factors, renews_on, scored_at from health_scores "
        "where account_id = any($1::uuid[]) and valid_until is null",
        list(account_ids),
    )
    return {r["account_id"]: _scored(r) for r in rows}


async def page(
    conn: asyncpg.Connection,
    as_of: datetime,
    renewing: tuple[date, date],
    partner_id: UUID | None,
    after: tuple[int, UUID] | None,
    limit: int,
) -> list[Scored]:
    """The scores valid at `as_of` of the accounts renewing between the two dates
    (inclusive; a partner's own with `partner_id`), lowest score first, then by id,
    strictly after `after`: a walk down the rank index."""
    score, account_id = after if after is not None else (-1, UUID(int=0))
    rows = await conn.fetch(
        """
        select h.account_id, h.score, h.factors, h.renews_on, h.scored_at
        from health_scores h
        where h.valid_from <= $1 and (h.valid_until is null or h.valid_until > $1)
          and h.renews_on between $2 and $3
          and (h.score, h.account_id) > ($5::smallint, $6::uuid)
          and ($4::uuid is null or exists (
                select 1 from partner_accounts p
                where p.account_id = h.account_id and p.partner_id = $4))
        order by h.score, h.account_id
        limit $7
        """,
        as_of,
        renewing[0],
        renewing[1],
        partner_id,
        score,
        account_id,
        limit,
    )
    return [_scored(r) for r in rows]
