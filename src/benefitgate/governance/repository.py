"""Every SQL statement of the governance view. It reads what other domains wrote (the
audit log, seat assignments, API keys and partners) and writes nothing; each statement
answers the pages of every account of a request at once."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import asyncpg

from benefitgate.audit.models import AuditEntry, Target
from benefitgate.governance.models import KeyHolder, SeatMove

__all__ = ["PageKey", "key_holders", "seat_moves", "trail_pages"]

# (account, below this id or number: None for the first page, at most this many)
PageKey = tuple[UUID, int | None, int]


async def trail_pages(conn: asyncpg.Connection, pages: Sequence[PageKey]) -> list[list[AuditEntry]]:
    """Each page of an account's audit entries, newest first, in the order asked."""
    rows = await conn.fetch(
        """
        select q.n, e.id, e.at, e.actor, e.action, e.target_kind, e.target_id, e.account_id,
               e.before, e.after, e.reason, e.request_id, e.rollback_of
        from unnest($1::uuid[], $2::bigint[], $3::int[]) with ordinality
             as q(account_id, before_id, lim, n)
        cross join lateral (
            select * from audit_log a
            where a.account_id = q.account_id and (q.before_id is null or a.id < q.before_id)
            order by a.id desc
            limit q.lim
        ) e
        order by q.n, e.id desc
        """,
        [p[0] for p in pages],
        [p[1] for p in pages],
        [p[2] for p in pages],
    )
    found: list[list[AuditEntry]] = [[] for _ in pages]
    for r in rows:
        found[r["n"] - 1].append(
            AuditEntry(
                id=r["id"],
                at=r["at"],
                actor=r["actor"],
                action=r["action"],
                target=Target(r["target_kind"], r["target_id"], r["account_id"]),
                before=r["before"],
                after=r["after"],
                reason=r["reason"],
                request_id=r["request_id"],
                rollback_of=r["rollback_of"],
            )
        )
    return found


async def key_holders(conn: asyncpg.Connection, key_ids: Sequence[str]) -> dict[str, KeyHolder]:
    rows = await conn.fetch(
        """
        select k.id, k.role, p.name
        from api_keys k left join partners p on p.id = k.partner_id
        where k.id = any($1::text[])
        """,
        list(key_ids),
    )
    return {r["id"]: KeyHolder(r["role"], r["name"]) for r in rows}


async def seat_moves(conn: asyncpg.Connection, pages: Sequence[PageKey]) -> list[list[SeatMove]]:
    """Each page of an account's seat history, newest first, in the order asked: every
    assignment and release, and every change of the purchased count, as the audit entries
    recording them, each numbered by its entry's id, with the seats held and purchased
    after it. Every seat change and every change of the count holds the subscription's
    row lock from before its entry takes an id until it commits, so an account's entries
    commit in id order: a move's number never changes, a later move always has a greater
    one, and held counts follow the order the changes were made in, whatever their clocks
    said (`at` may go back between replicas). The running counts read the account's whole
    history for every page."""
    rows = await conn.fetch(
        """
        select q.n as page, h.*
        from unnest($1::uuid[], $2::bigint[], $3::int[]) with ordinality
             as q(account_id, before_n, lim, n)
        cross join lateral (
            select * from (
                select number, at, kind, user_ref, held::int as held,
                       first_value(purchased) over (partition by counted order by number)
                           as purchased
                from (
                    select id as number, at, kind, user_ref, purchased,
                           sum(delta) over w as held, count(purchased) over w as counted
                    from (
                        select id, at,
                               case when after is null then 'released' else 'assigned' end
                                   as kind,
                               coalesce(after, before) ->> 'user' as user_ref,
                               case when after is null then -1 else 1 end as delta,
                               null::int as purchased
                        from audit_log
                        where account_id = q.account_id and target_kind = 'seat'
                          and (before is null) <> (after is null)
                        union all
                        select id, at, 'purchased', null, 0, (after ->> 'seats')::int
                        from audit_log
                        where account_id = q.account_id and target_kind = 'subscription'
                          and after ? 'seats'
                          and (before is null
                               or before -> 'seats' is distinct from after -> 'seats')
                    ) moves
                    window w as (order by id rows between unbounded preceding and current row)
                ) numbered
            ) history
            where q.before_n is null or history.number < q.before_n
            order by history.number desc
            limit q.lim
        ) h
        order by q.n, h.number desc
        """,
        [p[0] for p in pages],
        [p[1] for p in pages],
        [p[2] for p in pages],
    )
    found: list[list[SeatMove]] = [[] for _ in pages]
    for r in rows:
        found[r["page"] - 1].append(
            SeatMove(
                number=r["number"],
                at=r["at"],
                kind=r["kind"],
                user_ref=r["user_ref"],
                held=r["held"],
                purchased=r["purchased"],
            )
        )
    return found
