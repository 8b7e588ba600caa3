"""The SQL statements that write the suggestions' ranking (migration 0031): the job's
rounds, and the confidence each open suggestion is ranked by from a round on. A page read
as the ranking stood at one round is `repository.open_page`.

A round is one transaction of the job: `begin_round` numbers it under the lock of the
ranking's row, held to the end of the transaction, so rounds commit one at a time in
their order and a reader that saw round r committed sees every row valid at r, whatever
rounds commit after. Requests never take the lock: accepting or dismissing a suggestion
changes its status only, and the page reads the status as it is now.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

__all__ = ["begin_round", "prune", "rank"]


async def begin_round(conn: asyncpg.Connection) -> int:
    """Number the caller's transaction's round; locks the ranking's row until it ends."""
    found: int = await conn.fetchval(
        "update suggestion_ranking set round = round + 1 returning round"
    )
    return found


async def rank(
    conn: asyncpg.Connection, ranked: Sequence[tuple[UUID, float]], round_: int, now: datetime
) -> None:
    """Rank each (suggestion, confidence) from `round_` on (in that round's transaction): a
    suggestion ranked by another confidence has that row closed at the round and a new one
    opened; one ranked by the same keeps its row."""
    if not ranked:
        return
    ids, confidences = [i for i, _ in ranked], [str(c) for _, c in ranked]
    await conn.execute(
        """
        update suggestion_rankings r set valid_until = $3, ended_at = $4
        from unnest($1::uuid[], $2::numeric[]) as n(id, confidence)
        where r.suggestion_id = n.id and r.valid_until is null and r.confidence <> n.confidence
        """,
        ids,
        confidences,
        round_,
        now,
    )
    await conn.execute(
        """
        insert into suggestion_rankings (suggestion_id, confidence, valid_from)
        select n.id, n.confidence, $3 from unnest($1::uuid[], $2::numeric[]) as n(id, confidence)
        where not exists (select 1 from suggestion_rankings r
                          where r.suggestion_id = n.id and r.valid_until is null)
        """,
        ids,
        confidences,
        round_,
    )


async def prune(conn: asyncpg.Connection, ended_before: datetime) -> None:
    """Remove the rows no walk can read: those of suggestions no longer open (none comes
    back), and those closed before `ended_before`, whose greatest round then refuses the
    walks of the rounds before it; one statement, so a page sees both or neither. In the
    caller's transaction, after the ranking's lock, which rounds take before any row."""
    await conn.execute("select from suggestion_ranking for update")
    await conn.execute(
        """
        with gone as (
            delete from suggestion_rankings r
            where r.ended_at < $1
               or not exists (select 1 from suggestions s
                              where s.id = r.suggestion_id and s.status = 'open')
            returning r.valid_until, r.ended_at
        )
        update suggestion_ranking set pruned_through = greatest(
            pruned_through, (select max(valid_until) from gone where ended_at < $1))
        """,
        ended_before,
    )
