"""Who may see an account right now: the partners that manage it.

A live subscription naming accounts is checked against them as it starts; its events are
then checked one by one against the partners read with each batch (`events.read_new`), so
a partner that stops managing an account stops hearing about it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from uuid import UUID

import asyncpg

__all__ = ["managing_partners"]


async def managing_partners(
    conn: asyncpg.Connection, account_ids: Collection[UUID]
) -> Mapping[UUID, frozenset[UUID]]:
    """The partners of each existing account among `account_ids`, in one statement.

    An account that does not exist is absent from the result; one without partners maps to
    an empty set.
    """
    rows = await conn.fetch(
        """
        select a.id,
               array(select p.partner_id from partner_accounts p where p.account_id = a.id)
                 as partner_ids
        from accounts a where a.id = any($1::uuid[])
        """,
        list(account_ids),
    )
    return {row["id"]: frozenset(row["partner_ids"]) for row in rows}
