"""Creating many subscriptions at once, for imports and the demo: the records of
`provisioning.create` (an audit entry and a `subscription.changed` event each), a statement
per table for the whole batch. An account that has a subscription already keeps it, so a
re-run of an import changes nothing, whoever subscribed that account meanwhile."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import asyncpg

from benefitgate.accounts.models import Subscription
from benefitgate.audit import service as audit
from benefitgate.audit.models import Target
from benefitgate.common.changes import ChangeContext
from benefitgate.events import outbox as events
from benefitgate.subscriptions.service import EVENT, KIND, snapshot

__all__ = ["accounts_by_external_id", "create_many"]

ACTION = "subscription.created"


async def accounts_by_external_id(
    conn: asyncpg.Connection, external_ids: Sequence[str]
) -> dict[str, UUID]:
    rows = await conn.fetch(
        "select external_id, id from accounts where external_id = any($1::text[])",
        list(external_ids),
    )
    return {r[0]: r[1] for r in rows}


async def create_many(
    conn: asyncpg.Connection, change: ChangeContext, subs: Sequence[tuple[UUID, Subscription]]
) -> set[UUID]:
    """Create each (account id, subscription) as given whose account has none, with its
    audit entry and event, in the caller's transaction; returns the accounts subscribed.
    The account ids must be distinct."""
    created = await _insert(conn, subs)
    done = [(a, snapshot(s, a)) for a, s in subs if a in created]
    targets = [(Target(KIND, after["id"], a), None, after) for a, after in done]
    entries = await audit.record_many(conn, change, ACTION, targets)
    payloads = [
        (a, {"action": ACTION, "auditEntryId": e, "subscription": after})
        for (a, after), e in zip(done, entries, strict=True)
    ]
    await events.enqueue_many(conn, EVENT, payloads)
    return created


async def _insert(conn: asyncpg.Connection, subs: Sequence[tuple[UUID, Subscription]]) -> set[UUID]:
    """Insert in account order (concurrent bulk inserts lock in one order); returns the
    accounts whose subscription was inserted."""
    rows = await conn.fetch(
        """
        insert into subscriptions (id, account_id, tier_version_id, term, seats, status,
            current_period_start, current_period_end, renewal_date, scheduled_tier_version_id,
            scheduled_change_at, started_at, version, scheduled_term, trial_ends_at,
            trial_fallback_tier_version_id, trial_converts, cancel_at_period_end)
        select *
        from unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::text[], $5::int[], $6::text[],
                    $7::timestamptz[], $8::timestamptz[], $9::date[], $10::bigint[],
                    $11::timestamptz[], $12::timestamptz[], $13::int[], $14::text[],
                    $15::timestamptz[], $16::bigint[], $17::bool[], $18::bool[]) as x
        order by 2
        on conflict (account_id) do nothing
        returning account_id
        """,
        [s.id for _, s in subs],
        [a for a, _ in subs],
        [s.tier_version_id for _, s in subs],
        [s.term for _, s in subs],
        [s.seats for _, s in subs],
        [s.status for _, s in subs],
        [s.current_period_start for _, s in subs],
        [s.current_period_end for _, s in subs],
        [s.renewal_date for _, s in subs],
        [s.scheduled_tier_version_id for _, s in subs],
        [s.scheduled_change_at for _, s in subs],
        [s.started_at for _, s in subs],
        [s.version for _, s in subs],
        [s.scheduled_term for _, s in subs],
        [s.trial_ends_at for _, s in subs],
        [s.trial_fallback_tier_version_id for _, s in subs],
        [s.trial_converts for _, s in subs],
        [s.cancel_at_period_end for _, s in subs],
    )
    return {r[0] for r in rows}
