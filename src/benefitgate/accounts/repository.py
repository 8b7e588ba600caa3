"""Every SQL statement of accounts and subscriptions."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import asyncpg

from benefitgate.accounts.models import Account, Subscription

__all__ = ["accounts_by_ids", "page_of_account_ids"]

# The subscription's columns come in the order of Subscription's fields, so that a row
# builds one positionally: by name it cost twice as much, a few microseconds an account,
# and ingest loads a thousand accounts a batch.
_ACCOUNT_COLUMNS = """
    a.id, a.name, a.created_at,
    array(select p.partner_id from partner_accounts p where p.account_id = a.id) as partner_ids,
    s.id as subscription_id, s.tier_version_id, s.term, s.seats, s.status,
    s.current_period_start, s.current_period_end, s.renewal_date,
    s.scheduled_tier_version_id, s.scheduled_change_at, s.started_at, s.version,
    s.scheduled_term, s.trial_ends_at, s.trial_fallback_tier_version_id, s.trial_converts
"""
_SUBSCRIPTION_AT = 4  # where the subscription's columns start


def _account(row: asyncpg.Record) -> Account:
    values = tuple(row)
    subscription = values[_SUBSCRIPTION_AT:]
    return Account(
        id=values[0],
        name=values[1],
        created_at=values[2],
        partner_ids=tuple(values[3]),
        subscription=None if subscription[0] is None else Subscription(*subscription),
    )


async def accounts_by_ids(conn: asyncpg.Connection, ids: Sequence[UUID]) -> dict[UUID, Account]:
    """Accounts with their subscription and managing partners, in one statement."""
    rows = await conn.fetch(
        f"""
        select {_ACCOUNT_COLUMNS}
        from accounts a left join subscriptions s on s.account_id = a.id
        where a.id = any($1::uuid[])
        """,  # noqa: S608 -- a constant column list, no input reaches the text
        list(ids),
    )
    return {row["id"]: _account(row) for row in rows}


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
