"""Every SQL statement of seat assignments."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

from benefitgate.seats.models import SeatAssignment

__all__ = [
    "assign",
    "open_assignments",
    "open_count",
    "release",
    "touch",
]

_COLUMNS = "account_id, user_ref, assigned_at, last_active_at"


async def open_count(conn: asyncpg.Connection, account_id: UUID) -> int:
    count: int = await conn.fetchval(
        "select count(*) from seat_assignments where account_id = $1 and released_at is null",
        account_id,
    )
    return count


async def open_assignments(
    conn: asyncpg.Connection, account_ids: Sequence[UUID]
) -> dict[UUID, list[SeatAssignment]]:
    """Seats held now, per account, by user, in one statement."""
    rows = await conn.fetch(
        f"""
        select {_COLUMNS} from seat_assignments
        where account_id = any($1::uuid[]) and released_at is null
        order by account_id, user_ref
        """,  # noqa: S608 (a constant column list, no input)
        list(account_ids),
    )
    result: dict[UUID, list[SeatAssignment]] = defaultdict(list)
    for row in rows:
        result[row["account_id"]].append(SeatAssignment(**dict(row)))
    return result


async def held(conn: asyncpg.Connection, account_id: UUID, user_ref: str) -> SeatAssignment | None:
    row = await conn.fetchrow(
        f"""
        select {_COLUMNS} from seat_assignments
        where account_id = $1 and user_ref = $2 and released_at is null
        """,  # noqa: S608 (a constant column list, no input)
        account_id,
        user_ref,
    )
    return None if row is None else SeatAssignment(**dict(row))


async def assign(
    conn: asyncpg.Connection, account_id: UUID, user_ref: str, at: datetime
) -> SeatAssignment:
    row = await conn.fetchrow(
        f"""
        insert into seat_assignments (id, account_id, user_ref, assigned_at)
        values ($1, $2, $3, $4)
        returning {_COLUMNS}
        """,  # noqa: S608 (a constant column list, no input)
        uuid.uuid4(),
        account_id,
        user_ref,
        at,
    )
    return SeatAssignment(**dict(row))


async def release(conn: asyncpg.Connection, account_id: UUID, user_ref: str, at: datetime) -> bool:
    """Release the user's open seat at `at`, or at its assignment if that is later: the
    replica that assigned it may have had a clock ahead of this one's."""
    status: str = await conn.execute(
        """
        update seat_assignments set released_at = greatest($3, assigned_at)
        where account_id = $1 and user_ref = $2 and released_at is null
        """,
        account_id,
        user_ref,
        at,
    )
    return status != "UPDATE 0"


async def touch(
    conn: asyncpg.Connection, account_id: UUID, user_refs: Sequence[str], at: datetime
) -> int:
    """Mark the users' seats active at `at` (never moving a later mark back)."""
    status = await conn.execute(
        """
        update seat_assignments
        set last_active_at = greatest(last_active_at, $3)
        where account_id = $1 and user_ref = any($2::text[]) and released_at is null
        """,
        account_id,
        list(user_refs),
        at,
    )
    return int(status.split()[-1])
