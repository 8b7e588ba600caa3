"""Creating many subscriptions at once, for imports: the rules of `provisioning.create`
(`new_subscription`), one statement for the batch. An account that has a subscription
already keeps it (a re-run of an import changes nothing)."""

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
    return {r["external_id"]: r["id"] for r in rows}


async def create_many(
    conn: asyncpg.Connection, change: ChangeContext, subs: Sequence[tuple[UUID, Subscription]]
) -> set[UUID]:
    """Create each (account id, subscription) whose account has none, with its audit entry
    and event, in the caller's transaction; returns the accounts subscribed."""
    columns = [
        [s.id for _, s in subs],
        [a for a, _ in subs],
        [s.tier_version_id for _, s in subs],
        [s.term for _, s in subs],
        [s.seats for _, s in subs],
        [s.status for _, s in subs],
        [s.current_period_start for _, s in subs],
        [s.current_period_end for _, s in subs],
        [s.renewal_date for _, s in subs],
        [s.trial_ends_at for _, s in subs],
        [s.trial_fallback_tier_version_id for _, s in subs],
    ]
    rows = await conn.fetch(
        """
        insert into subscriptions (id, account_id, tier_version_id, term, seats, status,
            current_period_start, current_period_end, renewal_date, started_at,
            trial_ends_at, trial_fallback_tier_version_id, trial_converts)
        select i, a, v, t, n, s, ps, pe, r, ps, te, f, true
        from unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::text[], $5::int[], $6::text[],
                    $7::timestamptz[], $8::timestamptz[], $9::date[], $10::timestamptz[],
                    $11::bigint[]) as x(i, a, v, t, n, s, ps, pe, r, te, f)
        on conflict (account_id) do nothing
        returning account_id
        """,
        *columns,
    )
    created = {r["account_id"] for r in rows}
    done = [(a, snapshot(s, a)) for a, s in subs if a in created]
    targets = [(Target(KIND, after["id"], a), None, after) for a, after in done]
    entries = await audit.record_many(conn, change, ACTION, targets)
    payloads = [
        (a, {"action": ACTION, "auditEntryId": e.id, "subscription": after})
        for (a, after), e in zip(done, entries, strict=True)
    ]
    await events.enqueue_many(conn, EVENT, payloads)
    return created
