"""Every SQL statement that moves subscriptions between versions of their tier, set-wise."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from benefitgate.accounts.models import Subscription

# The subscription columns, shared with the repository of single changes so that both
# build the same model from a row.
from benefitgate.subscriptions.repository import _COLUMNS

__all__ = ["OnVersion", "lock_on_version", "move", "on_version"]


@dataclass(frozen=True, slots=True)
class OnVersion:
    account_id: UUID
    account_name: str
    subscription: Subscription


_ON_VERSION = f"""
    select account_id,
           (select a.name from accounts a where a.id = s.account_id) as account_name,
           {_COLUMNS}
    from subscriptions s
    where tier_version_id = $1 and status <> 'canceled'
    order by id
    limit $2
"""  # noqa: S608 (a constant column list, no input)


def _subscription(row: asyncpg.Record) -> Subscription:
    extra = ("account_id", "account_name")
    return Subscription(**{k: v for k, v in row.items() if k not in extra})


def _on_version(row: asyncpg.Record) -> OnVersion:
    return OnVersion(row["account_id"], row["account_name"], _subscription(row))


async def on_version(conn: asyncpg.Connection, version_id: int, limit: int) -> list[OnVersion]:
    """Up to `limit` live (not canceled) subscriptions pinning the version, by id."""
    rows = await conn.fetch(_ON_VERSION, version_id, limit)
    return [_on_version(r) for r in rows]


async def lock_on_version(conn: asyncpg.Connection, version_id: int, limit: int) -> list[OnVersion]:
    """As `on_version`, each row locked until the end of the caller's transaction. Rows are
    locked in id order, so two bulk moves never deadlock on each other; a row that another
    transaction moves away meanwhile is re-checked after its lock and left out."""
    rows = await conn.fetch(f"{_ON_VERSION} for update", version_id, limit)
    return [_on_version(r) for r in rows]


async def move(
    conn: asyncpg.Connection, subscription_ids: Sequence[UUID], to_version_id: int
) -> dict[UUID, Subscription]:
    """Pin the locked subscriptions to another version and bump their versions, in one
    statement; returns them as they are now, by id."""
    rows = await conn.fetch(
        f"""
        update subscriptions set tier_version_id = $2, version = version + 1
        where id = any($1::uuid[])
        returning {_COLUMNS}
        """,  # noqa: S608 (a constant column list, no input)
        list(subscription_ids),
        to_version_id,
    )
    return {row["id"]: Subscription(**dict(row)) for row in rows}
