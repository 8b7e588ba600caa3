"""Every SQL statement of suggestions but the marks: the evidence read model and the
stored suggestions. Returns models, never records.

The evidence queries read other domains' tables (counters, denials, achievements) as a
read model: one statement per kind for a whole batch of accounts.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from benefitgate.suggestions.models import (
    Achieved,
    CounterReading,
    Denial,
    Gain,
    Proposal,
    Ranked,
    Reason,
    Suggestion,
)
from benefitgate.suggestions.rankings import rank

__all__ = [
    "by_id",
    "close",
    "current_by_accounts",
    "decide",
    "insert",
    "last_counters",
    "open_page",
    "recent_achievements",
    "recent_denials",
    "touch",
    "update_open",
]

_COLUMNS = """id, account_id, tier_key, tier_version_id, from_tier_version_id, status,
              confidence, reasons, gains, currency, monthly_delta_cents, annual_delta_cents,
              created_at, evaluated_at, decided_at, decided_by, dismiss_reason,
              dismissed_until, closed_at, version"""


# The columns of a suggestion read beside others: those of a walk's page and the round.
_RANKED = [c.strip() for c in _COLUMNS.split(",")]
_RANKED_COLUMNS = ", ".join(f"s.{c}" for c in _RANKED)


def _suggestion(row: asyncpg.Record, columns: list[str] | None = None) -> Suggestion:
    return Suggestion(
        **{
            **(dict(row) if columns is None else {c: row[c] for c in columns}),
            "confidence": float(row["confidence"]),
            "reasons": tuple(Reason.from_json(r) for r in row["reasons"]),
            "gains": tuple(Gain.from_json(g) for g in row["gains"]),
        }
    )


async def last_counters(
    conn: asyncpg.Connection, account_ids: Sequence[UUID], now: datetime, periods: int = 3
) -> dict[UUID, list[CounterReading]]:
    """The `periods` newest counters per account and metric that started by `now`."""
    rows = await conn.fetch(
        """
        select account_id, metric_key, period_start, period_end, value
        from (select c.*, row_number() over (
                  partition by account_id, metric_key order by period_start desc) as n
              from usage_counters c
              where account_id = any($1::uuid[]) and period_start <= $2) c
        where n <= $3
        """,
        list(account_ids),
        now,
        periods,
    )
    found: dict[UUID, list[CounterReading]] = {a: [] for a in account_ids}
    for r in rows:
        found[r["account_id"]].append(
            CounterReading(r["metric_key"], r["period_start"], r["period_end"], float(r["value"]))
        )
    return found


async def recent_denials(
    conn: asyncpg.Connection, account_ids: Sequence[UUID], since: datetime
) -> dict[UUID, list[Denial]]:
    """Checks denied since `since` because a feature is not in the tier or excluded."""
    rows = await conn.fetch(
        """
        select account_id, feature, reason, count, first_at, last_at
        from entitlement_denials
        where account_id = any($1::uuid[]) and last_at >= $2
          and reason in ('not_in_tier', 'excluded')
        order by account_id, feature, reason
        """,
        list(account_ids),
        since,
    )
    found: dict[UUID, list[Denial]] = {a: [] for a in account_ids}
    for r in rows:
        found[r["account_id"]].append(
            Denial(r["feature"], r["reason"], r["count"], r["first_at"], r["last_at"])
        )
    return found


async def recent_achievements(
    conn: asyncpg.Connection, account_ids: Sequence[UUID], since: datetime
) -> dict[UUID, list[Achieved]]:
    rows = await conn.fetch(
        """
        select a.account_id, a.milestone_key, m.name, m.kind, a.achieved_at
        from achievements a join milestones m on m.key = a.milestone_key
        where a.account_id = any($1::uuid[]) and a.achieved_at >= $2
        order by a.account_id, a.achieved_at, a.milestone_key
        """,
        list(account_ids),
        since,
    )
    found: dict[UUID, list[Achieved]] = {a: [] for a in account_ids}
    for r in rows:
        found[r["account_id"]].append(
            Achieved(r["milestone_key"], r["name"], r["kind"], r["achieved_at"])
        )
    return found


async def current_by_accounts(
    conn: asyncpg.Connection, account_ids: Sequence[UUID], *, lock: bool = False
) -> dict[UUID, Suggestion]:
    """Each account's current suggestion (open, or dismissed and not yet superseded)."""
    rows = await conn.fetch(
        f"""
        select {_COLUMNS} from suggestions
        where account_id = any($1::uuid[]) and closed_at is null
        order by account_id
        {"for update" if lock else ""}
        """,  # noqa: S608 (constant column list and clause, no input)
        list(account_ids),
    )
    return {r["account_id"]: _suggestion(r) for r in rows}


async def by_id(
    conn: asyncpg.Connection, suggestion_id: UUID, *, lock: bool = False
) -> Suggestion | None:
    """The suggestion; with `lock`, its row is locked for the caller's transaction."""
    row = await conn.fetchrow(
        f"""select {_COLUMNS} from suggestions where id = $1
            {"for update" if lock else ""}""",  # noqa: S608 (constant columns and clause)
        suggestion_id,
    )
    return None if row is None else _suggestion(row)


async def insert(
    conn: asyncpg.Connection, p: Proposal, now: datetime, round_: int
) -> Suggestion | None:
    """Open a suggestion, ranked from the caller's round (`rankings.begin_round`) on; None
    when a concurrent recompute opened the account's first."""
    row = await conn.fetchrow(
        f"""
        insert into suggestions (id, account_id, tier_key, tier_version_id,
            from_tier_version_id, status, confidence, reasons, gains, currency,
            monthly_delta_cents, annual_delta_cents, created_at, evaluated_at)
        values ($1, $2, $3, $4, $5, 'open', $6, $7, $8, $9, $10, $11, $12, $12)
        on conflict (account_id) where closed_at is null do nothing
        returning {_COLUMNS}
        """,  # noqa: S608 (a constant column list, no input)
        uuid.uuid4(),
        p.account_id,
        p.tier_key,
        *_proposal_values(p),
        now,
    )
    if row is None:
        return None
    await rank(conn, [(row["id"], p.confidence)], round_, now)
    return _suggestion(row)


async def update_open(
    conn: asyncpg.Connection, updates: Sequence[tuple[UUID, Proposal]], now: datetime, round_: int
) -> None:
    """New evidence for the same suggested tier: each (suggestion id, proposal) keeps its
    id, and is ranked by its new confidence from the caller's round on (walks begun before
    keep the ranking they read). One statement for all the suggestions, in id order (rows
    locked in one order by every runner), and the ranking's two."""
    if not updates:
        return
    rows = sorted((suggestion_id, *_proposal_values(p)) for suggestion_id, p in updates)
    # jsonb as text: asyncpg would take a list inside a jsonb[] for one more dimension.
    rows = [(*r[:4], _json(r[4]), _json(r[5]), *r[6:]) for r in rows]
    await conn.execute(
        """
        update suggestions s set tier_version_id = u.tier_version_id,
            from_tier_version_id = u.from_tier_version_id, confidence = u.confidence,
            reasons = u.reasons::jsonb, gains = u.gains::jsonb, currency = u.currency,
            monthly_delta_cents = u.monthly_delta_cents,
            annual_delta_cents = u.annual_delta_cents, evaluated_at = $10,
            version = s.version + 1
        from unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::numeric[], $5::text[],
                    $6::text[], $7::text[], $8::bigint[], $9::bigint[])
            as u(id, tier_version_id, from_tier_version_id, confidence, reasons, gains,
                 currency, monthly_delta_cents, annual_delta_cents)
        where s.id = u.id
        """,
        *(list(column) for column in zip(*rows, strict=True)),
        now,
    )
    await rank(conn, [(suggestion_id, p.confidence) for suggestion_id, p in updates], round_, now)


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _proposal_values(p: Proposal) -> tuple[Any, ...]:
    """What a proposal stores, in the order both `insert` and `update_open` take it."""
    return (
        p.tier_version_id,
        p.from_tier_version_id,
        p.confidence,
        [r.json() for r in p.reasons],
        [g.json() for g in p.gains],
        p.currency,
        p.monthly_delta_cents,
        p.annual_delta_cents,
    )


async def touch(conn: asyncpg.Connection, ids: Sequence[UUID], now: datetime) -> None:
    await conn.execute(
        "update suggestions set evaluated_at = $2 where id = any($1::uuid[])", list(ids), now
    )


async def close(conn: asyncpg.Connection, suggestion_id: UUID, now: datetime) -> None:
    """Take a suggestion out of the current ones: an open one is withdrawn, a dismissed
    one stays dismissed."""
    await conn.execute(
        """
        update suggestions set closed_at = $2, version = version + 1,
            status = case when status = 'open' then 'withdrawn' else status end
        where id = $1
        """,
        suggestion_id,
        now,
    )


async def decide(
    conn: asyncpg.Connection,
    suggestion_id: UUID,
    *,
    status: str,
    by: str,
    now: datetime,
    reason: str | None = None,
    until: datetime | None = None,
) -> Suggestion:
    """Accept (closing it) or dismiss (suppressing until `until`) an open suggestion."""
    row = await conn.fetchrow(
        f"""
        update suggestions set status = $2::text, decided_by = $3, decided_at = $4::timestamptz,
            dismiss_reason = $5, dismissed_until = $6, version = version + 1,
            closed_at = case when $2::text = 'accepted' then $4::timestamptz end
        where id = $1
        returning {_COLUMNS}
        """,  # noqa: S608 (a constant column list, no input)
        suggestion_id,
        status,
        by,
        now,
        reason,
        until,
    )
    return _suggestion(row)


async def open_page(
    conn: asyncpg.Connection,
    *,
    round_: int | None,
    partner_id: UUID | None,
    after: tuple[float, UUID] | None,
    limit: int,
) -> Ranked:
    """The suggestions open now (of a partner's accounts, or of every account with
    partner_id None) that were open at `round_` (None: the last round), most confident
    first by the ranking of that round, then by id, strictly after a (confidence, id)
    position: one statement, so the round, its rows and whether they are all still there
    are read at one instant."""
    rows = await conn.fetch(
        f"""
        with walk as (
            select w.round, w.round between k.pruned_through and k.round as readable
            from suggestion_ranking k, lateral (select coalesce($1::bigint, k.round)) w(round)
        )
        select w.round as walk_round, w.readable, p.* from walk w
        left join lateral (
            select {_RANKED_COLUMNS}, r.confidence as ranked
            from suggestion_rankings r join suggestions s on s.id = r.suggestion_id
            where w.readable and r.valid_from <= w.round
              and (r.valid_until is null or r.valid_until > w.round)
              and s.status = 'open'
              and ($2::uuid is null or exists (
                    select 1 from partner_accounts p
                    where p.partner_id = $2 and p.account_id = s.account_id))
              and ($3::text is null
                   or (r.confidence, r.suggestion_id) < ($3::text::numeric, $4::uuid))
            order by r.confidence desc, r.suggestion_id desc
            limit $5
        ) p on true
        """,  # noqa: S608 (a constant column list, no input)
        round_,
        partner_id,
        None if after is None else str(after[0]),  # as text: a float is not exact
        None if after is None else after[1],
        limit,
    )
    page = tuple((_suggestion(r, _RANKED), float(r["ranked"])) for r in rows if r["id"] is not None)
    return Ranked(page, rows[0]["walk_round"], rows[0]["readable"])
