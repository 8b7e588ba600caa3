"""Every SQL statement that reads grants."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from benefitgate.entitlements.models import Grant

__all__ = [
    "GRANT_COLUMNS",
    "active_grants",
    "current_grants",
    "grant_for_update",
    "grant_of",
    "has_expired_grant",
    "insert_grant",
    "insert_grants",
    "unrevoked_grants",
    "update_grant",
]

# In the order of Grant's fields, so that a row (or a row() value of another statement, as
# the account view's `views.repository` selects) builds one positionally: `grant_of`.
GRANT_COLUMNS = """id, account_id, benefit_key, source, amount, mode, valid_from, valid_until,
                   revoked_at, created_at, version"""
_COLUMNS = GRANT_COLUMNS


def _grant(row: asyncpg.Record) -> Grant:
    amount = None if row["amount"] is None else float(row["amount"])
    return Grant(**{**dict(row), "amount": amount})


def grant_of(values: Sequence[Any]) -> Grant:
    """A grant from GRANT_COLUMNS' values, in their order."""
    grant = Grant(*values)
    if grant.amount is not None:  # numeric arrives as Decimal
        return replace(grant, amount=float(grant.amount))
    return grant


def _by_account(rows: list[asyncpg.Record]) -> dict[UUID, list[Grant]]:
    result: dict[UUID, list[Grant]] = defaultdict(list)
    for row in rows:
        result[row["account_id"]].append(_grant(row))
    return result


async def active_grants(
    conn: asyncpg.Connection, account_ids: Sequence[UUID], now: datetime
) -> dict[UUID, list[Grant]]:
    """Grants in force at `now` for each account, in one statement."""
    rows = await conn.fetch(
        f"""
        select {_COLUMNS}
        from grants
        where account_id = any($1::uuid[]) and revoked_at is null
          and valid_from <= $2 and (valid_until is null or valid_until > $2)
        order by created_at, id
        """,  # noqa: S608 (a constant column list, no input)
        list(account_ids),
        now,
    )
    return _by_account(rows)


async def next_grant_change(
    conn: asyncpg.Connection, account_ids: Sequence[UUID], now: datetime
) -> datetime | None:
    """The first instant after `now` at which a grant of the accounts starts or ends."""
    found: datetime | None = await conn.fetchval(
        """
        select min(least(case when valid_from > $2 then valid_from end,
                          case when valid_until > $2 then valid_until end))
        from grants
        where account_id = any($1::uuid[]) and revoked_at is null
          and (valid_from > $2 or valid_until > $2)
        """,
        list(account_ids),
        now,
    )
    return found


async def current_grants(
    conn: asyncpg.Connection, account_ids: Sequence[UUID], now: datetime
) -> dict[UUID, list[Grant]]:
    """Grants not revoked and not yet ended at `now` (active or starting later), per
    account, in one statement."""
    rows = await conn.fetch(
        f"""
        select {_COLUMNS}
        from grants
        where account_id = any($1::uuid[]) and revoked_at is null
          and (valid_until is null or valid_until > $2)
        order by created_at, id
        """,  # noqa: S608 (a constant column list, no input)
        list(account_ids),
        now,
    )
    return _by_account(rows)


async def unrevoked_grants(conn: asyncpg.Connection, account_id: UUID) -> list[Grant]:
    """Every grant of the account not revoked: ended, in force and starting later."""
    rows = await conn.fetch(
        f"""
        select {_COLUMNS} from grants
        where account_id = $1 and revoked_at is null
        order by created_at, id
        """,  # noqa: S608 (a constant column list, no input)
        account_id,
    )
    return [_grant(row) for row in rows]


async def insert_grant(conn: asyncpg.Connection, grant: Grant, reason: str) -> Grant:
    row = await conn.fetchrow(
        f"""
        insert into grants (id, account_id, benefit_key, source, amount, mode, valid_from,
                            valid_until, revoked_at, created_at, reason)
        values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
        returning {_COLUMNS}
        """,  # noqa: S608 (a constant column list, no input)
        grant.id,
        grant.account_id,
        grant.benefit_key,
        grant.source,
        grant.amount,
        grant.mode,
        grant.valid_from,
        grant.valid_until,
        grant.revoked_at,
        grant.created_at,
        reason,
    )
    return _grant(row)


async def insert_grants(
    conn: asyncpg.Connection, grants: Sequence[Grant], reason: str
) -> list[Grant]:
    """`insert_grant` for each of `grants` (all of one change, made at one instant), in
    one statement; the stored grants in the order given."""
    rows = await conn.fetch(
        f"""
        insert into grants (id, account_id, benefit_key, source, amount, mode, valid_from,
                            valid_until, revoked_at, created_at, reason)
        select g.id, g.account_id, g.benefit_key, g.source, g.amount, g.mode, g.valid_from,
               g.valid_until, null, $9, $10
        from unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::numeric[], $6::text[],
                    $7::timestamptz[], $8::timestamptz[])
             as g(id, account_id, benefit_key, source, amount, mode, valid_from, valid_until)
        returning {_COLUMNS}
        """,  # noqa: S608 (a constant column list, no input)
        [g.id for g in grants],
        [g.account_id for g in grants],
        [g.benefit_key for g in grants],
        [g.source for g in grants],
        [g.amount for g in grants],
        [g.mode for g in grants],
        [g.valid_from for g in grants],
        [g.valid_until for g in grants],
        grants[0].created_at if grants else None,
        reason,
    )
    stored = {row["id"]: _grant(row) for row in rows}
    return [stored[g.id] for g in grants]


async def grant_for_update(conn: asyncpg.Connection, grant_id: UUID) -> Grant | None:
    """The grant, locked until the end of the caller's transaction."""
    row = await conn.fetchrow(
        f"select {_COLUMNS} from grants where id = $1 for update",  # noqa: S608 (constant)
        grant_id,
    )
    return None if row is None else _grant(row)


async def update_grant(conn: asyncpg.Connection, grant: Grant) -> Grant:
    """Write the grant's mutable fields and bump its version. The caller holds the row lock
    and has checked the version it expected."""
    row = await conn.fetchrow(
        f"""
        update grants set amount = $2, valid_from = $3, valid_until = $4, revoked_at = $5,
                          version = version + 1
        where id = $1
        returning {_COLUMNS}
        """,  # noqa: S608 (a constant column list, no input)
        grant.id,
        grant.amount,
        grant.valid_from,
        grant.valid_until,
        grant.revoked_at,
    )
    return _grant(row)


async def has_expired_grant(
    conn: asyncpg.Connection, account_id: UUID, benefit_key: str, now: datetime
) -> bool:
    """Whether the account once held the benefit through a grant that has run out."""
    found: bool = await conn.fetchval(
        """
        select exists (
            select 1 from grants
            where account_id = $1 and benefit_key = $2 and revoked_at is null
              and valid_until <= $3
        )
        """,
        account_id,
        benefit_key,
        now,
    )
    return found
