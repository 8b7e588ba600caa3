"""Every SQL statement of partners and their links to accounts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

from benefitgate.partners.models import Partner

__all__ = ["insert", "link", "link_many", "unlink"]


async def insert(conn: asyncpg.Connection, partner_id: UUID, name: str, at: datetime) -> Partner:
    row = await conn.fetchrow(
        "insert into partners (id, name, created_at) values ($1, $2, $3) returning *",
        partner_id,
        name,
        at,
    )
    return Partner(row["id"], row["name"], row["created_at"], row["version"])


async def link(conn: asyncpg.Connection, partner_id: UUID, account_id: UUID) -> bool:
    """Link them; False when they were linked already. Raises asyncpg's
    ForeignKeyViolationError when either does not exist."""
    linked = await conn.fetchval(
        """insert into partner_accounts (partner_id, account_id) values ($1, $2)
           on conflict do nothing returning true""",
        partner_id,
        account_id,
    )
    return bool(linked)


async def unlink(conn: asyncpg.Connection, partner_id: UUID, account_id: UUID) -> bool:
    """Unlink them; False when they were not linked."""
    unlinked = await conn.fetchval(
        "delete from partner_accounts where partner_id = $1 and account_id = $2 returning true",
        partner_id,
        account_id,
    )
    return bool(unlinked)


async def link_many(
    conn: asyncpg.Connection, links: Sequence[tuple[UUID, UUID]]
) -> list[tuple[UUID, UUID]]:
    """Link the pairs not linked yet; returns those (partner, account) pairs."""
    rows = await conn.fetch(
        """insert into partner_accounts (partner_id, account_id)
           select * from unnest($1::uuid[], $2::uuid[]) on conflict do nothing
           returning partner_id, account_id""",
        [p for p, _ in links],
        [a for _, a in links],
    )
    return [(r["partner_id"], r["account_id"]) for r in rows]
