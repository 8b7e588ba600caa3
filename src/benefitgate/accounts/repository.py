"""Every SQL statement of accounts and subscriptions."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import asyncpg

from benefitgate.accounts.models import Account, Subscription

__all__ = ["accounts_by_ids", "page_of_account_ids"]

_ACCOUNT_COLUMNS = """
    a.id, a.name, a.created_at,
    array(select p.partner_id from partner_accounts p where p.account_id = a.id) as partner_ids,
    s.id as subscription_id, s.tier_version_id, s.term, s.seats, s.status,
    s.current_period_start, s.current_period_end, s.renewal_date,
    s.scheduled_tier_version_id, s.scheduled_change_at, s.started_at, s.version,
    s.scheduled_term, s.trial_ends_at, s.trial_fallback_tier_version_id, s.trial_converts
"""


def _subscription(row: asyncpg.Record) -> Subscription | None:
    if row["subscription_id"] is None:
        return None
    return Subscription(
        id=row["subscription_id"],
        tier_version_id=row["tier_version_id"],
        term=row["term"],
        seats=row["seats"],
        status=row["status"],
        current_period_start=row["current_period_start"],
        current_period_end=row["current_period_end"],
        renewal_date=row["renewal_date"],
        scheduled_tier_version_id=row["scheduled_tier_version_id"],
        scheduled_change_at=row["scheduled_change_at"],
        started_at=row["started_at"],
        version=row["version"],
        scheduled_term=row["scheduled_term"],
        trial_ends_at=row["trial_ends_at"],
        trial_fallback_tier_version_id=row["trial_fallback_tier_version_id"],
        trial_converts=row["trial_converts"],
    )


def _account(row: asyncpg.Record) -> Account:
    return Account(
        id=row["id"],
        name=row["name"],
        created_at=row["created_at"],
        partner_ids=tuple(row["partner_ids"]),
        subscription=_subscription(row),
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
