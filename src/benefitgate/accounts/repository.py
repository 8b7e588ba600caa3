"""Every SQL statement of accounts and subscriptions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from benefitgate.accounts.models import Account, AccountProfile, NewAccount, Subscription
from benefitgate.usage.periods import Ended

__all__ = [
    "ACCOUNT_COLUMNS",
    "account_of",
    "accounts_by_ids",
    "accounts_unless_known",
    "ended_periods",
    "id_by_external_id",
    "insert",
    "insert_many",
    "page_of_account_ids",
    "profile",
    "update",
]

# The account's columns with its subscription's, which `account_of` builds an Account of (the
# account view's one statement selects them too, `views.repository`).
# The subscription's columns come in the order of Subscription's fields, so that a row
# builds one positionally: by name it cost twice as much, a few microseconds an account,
# and ingest loads a thousand accounts a batch.
_ACCOUNT = "a.id, a.name, a.created_at, a.external_id, a.version"
_SUBSCRIPTION = """
    s.id as subscription_id, s.tier_version_id, s.term, s.seats, s.status,
    s.current_period_start, s.current_period_end, s.renewal_date,
    s.scheduled_tier_version_id, s.scheduled_change_at, s.started_at, s.version,
    s.scheduled_term, s.trial_ends_at, s.trial_fallback_tier_version_id, s.trial_converts,
    s.cancel_at_period_end
"""
ACCOUNT_COLUMNS = f"""{_ACCOUNT},
    array(select p.partner_id from partner_accounts p where p.account_id = a.id) as partner_ids,
    {_SUBSCRIPTION}"""  # noqa: S608 -- constant column lists, no input
_SUBSCRIPTION_AT = 6  # where the subscription's columns start


def account_of(row: Sequence[Any]) -> Account:
    """An account from ACCOUNT_COLUMNS' values, in their order (a record or a tuple)."""
    values = tuple(row)
    subscription = values[_SUBSCRIPTION_AT:]
    return Account(
        id=values[0],
        name=values[1],
        created_at=values[2],
        external_id=values[3],
        version=values[4],
        partner_ids=tuple(values[5]),
        subscription=None if subscription[0] is None else Subscription(*subscription),
    )


async def accounts_by_ids(
    conn: asyncpg.Connection, ids: Sequence[UUID | str], external_ids: Sequence[str] = ()
) -> dict[UUID, Account]:
    """Accounts with their subscription and managing partners, in one statement: those
    whose id is in `ids` or whose external id is in `external_ids`."""
    if not external_ids:
        rows = await conn.fetch(_BY_IDS, list(ids))
    else:
        rows = await conn.fetch(_BY_IDS_OR_EXTERNAL_IDS, list(ids), list(external_ids))
    return {row["id"]: account_of(row) for row in rows}


# The partners of all the accounts in one grouped read, joined by hash: a lookup of each
# account's partners (ACCOUNT_COLUMNS' subquery) cost Postgres 6.0 to 7.2 ms for a batch
# of a thousand accounts of ingest here, this 5.2 to 5.7.
_BY_IDS = f"""
    select {_ACCOUNT}, coalesce(p.partner_ids, '{{}}') as partner_ids, {_SUBSCRIPTION}
    from accounts a left join subscriptions s on s.account_id = a.id
    left join (select account_id, array_agg(partner_id) as partner_ids
               from partner_accounts where account_id = any($1::uuid[])
               group by account_id) p on p.account_id = a.id
    where a.id = any($1::uuid[])"""  # noqa: S608 -- constant column lists, no input

# Two index lookups: as one `or`, Postgres scanned the accounts and their subscriptions
# whole. An account found both ways comes twice, and counts once in the answer.
_BY_IDS_OR_EXTERNAL_IDS = f"""
    select {ACCOUNT_COLUMNS}
    from accounts a left join subscriptions s on s.account_id = a.id
    where a.id = any($1::uuid[])
    union all
    select {ACCOUNT_COLUMNS}
    from accounts a left join subscriptions s on s.account_id = a.id
    where a.external_id = any($2::text[])"""  # noqa: S608 -- constant SQL, no input


async def accounts_unless_known(
    conn: asyncpg.Connection,
    after: tuple[int, int],
    scanned: int,
    keep: Sequence[str],
    known: Sequence[UUID],
    ids: Sequence[UUID | str],
    external_ids: Sequence[str],
) -> tuple[bool, list[UUID], dict[UUID, Account]]:
    """In one statement: the accounts with one of `ids` or `external_ids`, and which of the
    `known` accounts an outbox event after the cursor `after` (txid, id) names, in this
    statement's snapshot, unless its type is in `keep`. Reads at most `scanned` events;
    the first item says whether there were more (the second is then incomplete)."""
    rows = await conn.fetch(
        _UNLESS_KNOWN,
        after[0],
        after[1],
        scanned,
        list(keep),
        list(known),
        list(ids),
        list(external_ids),
    )
    return (
        rows[0][0],
        rows[0][1],
        {row[2]: account_of(row[2:]) for row in rows if row[2] is not None},
    )


# The events after the cursor in (txid, id) order, as the listener reads them, through
# the outbox's cursor index; the accounts asked for after the fence's two columns, which
# come on every row (and on one row alone, with nulls, when no account is found).
_UNLESS_KNOWN = f"""
    with past as (
        select e.account_id, e.type from events e
        where (e.txid, e.id) > ($1::xid8, $2::bigint)
        order by e.txid, e.id
        limit $3
    ), fence as (
        select count(*) >= $3 as overflow,
               coalesce(array_agg(distinct account_id) filter (
                   where type <> all($4::text[]) and account_id = any($5::uuid[])), '{{}}')
               as changed
        from past
    )
    select f.overflow, f.changed, r.*
    from fence f left join (
        select {ACCOUNT_COLUMNS}
        from accounts a left join subscriptions s on s.account_id = a.id
        where a.id = any($6::uuid[])
        union all
        select {ACCOUNT_COLUMNS}
        from accounts a left join subscriptions s on s.account_id = a.id
        where a.external_id = any($7::text[])
    ) r on true"""  # noqa: S608 -- constant SQL, no input


async def page_of_account_ids(
    conn: asyncpg.Connection, *, after: UUID | None, limit: int, partner_id: UUID | None
) -> list[UUID]:
    """Account ids in id order after `after`; only a partner's own when `partner_id` is set."""
    rows = await conn.fetch(
        """
        select a.id from accounts a
        where ($1::uuid is null or a.id > $1)
          and ($2::uuid is null or exists (
                select 1 from partner_accounts p where p.account_id = a.id and p.partner_id = $2))
        order by a.id
        limit $3
        """,
        after,
        partner_id,
        limit,
    )
    return [row["id"] for row in rows]


async def insert(
    conn: asyncpg.Connection,
    account_id: UUID,
    external_id: str | None,
    name: str,
    metadata: dict[str, str],
    at: datetime,
) -> UUID | None:
    """Insert the account; None, with nothing written, when another holds `external_id`
    (concurrent creates of one external id: exactly one inserts)."""
    inserted: UUID | None = await conn.fetchval(
        """insert into accounts (id, external_id, name, metadata, created_at)
           values ($1, $2, $3, $4, $5) on conflict (external_id) do nothing returning id""",
        account_id,
        external_id,
        name,
        metadata,
        at,
    )
    return inserted


async def insert_many(
    conn: asyncpg.Connection, at: datetime, accounts: Sequence[NewAccount]
) -> set[UUID]:
    """Insert the accounts whose external id no account holds, in one statement, in
    external id order (concurrent bulk inserts take their key locks in one order, so
    they cannot deadlock); returns the ids inserted."""
    rows = await conn.fetch(
        """insert into accounts (id, external_id, name, metadata, created_at)
           select i, e, n, m::jsonb, coalesce(c, $1)
           from unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])
                as t(i, e, n, m, c)
           order by e
           on conflict (external_id) do nothing
           returning id""",
        at,
        [a.id for a in accounts],
        [a.external_id for a in accounts],
        [a.name for a in accounts],
        [orjson.dumps(a.metadata).decode() for a in accounts],
        [a.created_at for a in accounts],
    )
    return {r[0] for r in rows}


async def id_by_external_id(conn: asyncpg.Connection, external_id: str) -> UUID | None:
    found: UUID | None = await conn.fetchval(
        "select id from accounts where external_id = $1", external_id
    )
    return found


async def profile(
    conn: asyncpg.Connection, account_id: UUID, *, lock: bool = False
) -> AccountProfile | None:
    sql = "select id, external_id, name, metadata, version, created_at from accounts where id = $1"
    row = await conn.fetchrow(sql + (" for update" if lock else ""), account_id)
    return None if row is None else AccountProfile(**dict(row))


async def update(
    conn: asyncpg.Connection, account_id: UUID, name: str, metadata: dict[str, str]
) -> AccountProfile:
    row = await conn.fetchrow(
        """update accounts set name = $2, metadata = $3, version = version + 1 where id = $1
           returning id, external_id, name, metadata, version, created_at""",
        account_id,
        name,
        metadata,
    )
    return AccountProfile(**dict(row))


async def ended_periods(
    conn: asyncpg.Connection, ids: Sequence[UUID], since: datetime, count: int
) -> dict[UUID, tuple[Ended, ...]]:
    """Up to `count` of the newest billing periods each account's subscription ended
    after `since`, newest first; an account with none is left out."""
    rows = await conn.fetch(
        """
        select a.id, p.period_start, p.period_end, p.term
        from unnest($1::uuid[]) a (id)
        cross join lateral (
            select period_start, period_end, term from subscription_periods p
            where p.account_id = a.id and p.period_end > $2
            order by p.period_start desc limit $3) p
        """,
        list(ids),
        since,
        count,
    )
    found: dict[UUID, list[Ended]] = {}
    for r in rows:
        found.setdefault(r[0], []).append(Ended(r[1], r[2], r[3]))
    return {a: tuple(periods) for a, periods in found.items()}
