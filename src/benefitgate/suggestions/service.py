"""Suggestion use cases: recompute the marked accounts, accept, dismiss, and read.

A recompute keeps one current suggestion per account (a partial unique index):
- no proposal: an open suggestion is withdrawn; a dismissed one stays and suppresses;
- the same suggested tier as the open one: it is updated in place and keeps its id;
- another tier: the open one is withdrawn and a new one opens with `suggestion.created`;
- a dismissed one is replaced only once its suppression ended or the evidence grew.

Each recompute transaction is a round of the ranking (`rankings`): the confidences it
writes rank the open suggestions from that round on, so that a walk through them
(`open_page`) reads the ranking of its first page's round to its end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from benefitgate.accounts import service as accounts
from benefitgate.accounts.models import Account
from benefitgate.adoption import service as adoption
from benefitgate.audit.models import AuditEntry
from benefitgate.catalog.models import Catalog
from benefitgate.common.changes import ChangeContext, InvalidChange, TargetNotFound
from benefitgate.entitlements import service as entitlements
from benefitgate.events import outbox as events
from benefitgate.events.touch import touch
from benefitgate.seats import service as seats
from benefitgate.subscriptions import service as subscriptions
from benefitgate.subscriptions.proration import TierChangePlan
from benefitgate.suggestions import marks, rankings, repository, rightsizing
from benefitgate.suggestions.engine import propose
from benefitgate.suggestions.models import Evidence, Proposal, Ranked, Suggestion
from benefitgate.suggestions.rightsizing import Recommendation
from benefitgate.suggestions.signals import DENIAL_WINDOW, MILESTONE_WINDOW
from benefitgate.targets import service as targets
from benefitgate.usage.periods import EPOCH

__all__ = [
    "CREATED",
    "WALK_LIFETIME",
    "Accepted",
    "accept",
    "by_id",
    "current_by_accounts",
    "dismiss",
    "load_evidence",
    "open_page",
    "recommendations_of",
    "recompute",
    "refresh_marked",
]

CREATED = "suggestion.created"
ACCEPTED = "suggestion.accepted"
DISMISSED = "suggestion.dismissed"
BATCH = 200  # accounts recomputed per transaction
# Accounts proposed between two turns of the event loop: requests served by the same loop
# wait while proposals are computed, so no stretch of them may be long.
SLICE = 10
STALE_AFTER = timedelta(days=1)  # evidence ages out: periods close, denials grow old
# How long a walk through the open suggestions may go on reading the ranking of its first
# page at least: a confidence changed since is kept this long (and an hour for clocks).
WALK_LIFETIME = timedelta(days=1)
_KEEP = WALK_LIFETIME + timedelta(hours=1)


async def load_evidence(
    conn: asyncpg.Connection,
    account_ids: Sequence[UUID],
    catalog: Catalog,
    now: datetime,
    periods: int = 3,
) -> dict[UUID, Evidence]:
    """Everything the engine reads for the accounts, in a fixed number of statements; the
    counters of the last `periods` periods of each metric, and the billing periods the
    subscription ended before its current one (their terms may differ from it)."""
    as_of = await accounts.accounts_as_of(conn, account_ids, catalog, now)
    found = await accounts.with_ended_periods(conn, as_of, EPOCH, periods)
    ids = list(found)
    grants = await entitlements.active_grants(conn, ids, now)
    counters = await repository.last_counters(conn, ids, now, periods)
    denials = await repository.recent_denials(conn, ids, now - DENIAL_WINDOW)
    held = await seats.seats_by_account(conn, ids)
    achieved = await repository.recent_achievements(conn, ids, now - MILESTONE_WINDOW)
    progress = await targets.progress_by_account(conn, ids, catalog, now.date())
    return {
        a: Evidence(
            account=found[a],
            grants=tuple(grants.get(a, ())),
            counters=tuple(counters[a]),
            denials=tuple(denials[a]),
            seats_assigned=len(held.get(a, ())),
            achieved=tuple(achieved[a]),
            targets=tuple(progress.get(a, ())),
        )
        for a in ids
    }


async def recompute(
    conn: asyncpg.Connection,
    account_ids: Sequence[UUID],
    catalog: Catalog,
    now: datetime,
) -> list[Suggestion]:
    """Bring the accounts' suggestions up to date with their evidence, in the caller's
    transaction, which is a round of the ranking (its lock is taken first, before any
    suggestion's); returns the suggestions opened. Yields to the event loop every SLICE
    accounts: the job shares its loop with the requests a replica serves."""
    round_ = await rankings.begin_round(conn)
    current = await repository.current_by_accounts(conn, account_ids, lock=True)
    evidence = await load_evidence(conn, account_ids, catalog, now)
    opened: list[Suggestion] = []
    kept = _Kept()
    for n, (account_id, found) in enumerate(evidence.items(), 1):
        proposal = propose(found, catalog, now)
        created = await _reconcile(conn, current.get(account_id), proposal, (now, round_), kept)
        if created is not None:
            opened.append(created)
        if n % SLICE == 0:
            await asyncio.sleep(0)
    await repository.update_open(conn, kept.updated, now, round_)
    # Ranked again as they are: nothing changes for one this release ranked, but one that
    # a replica of the release before the ranking opened or rescored (during a rollout, or
    # after an image rolled back) is ranked by its confidence, instead of missing from
    # the list or ranked by an old confidence until its evidence changes.
    await rankings.rank(conn, kept.unchanged, round_, now)
    await repository.touch(conn, [s.id for s in current.values()], now)
    # An open suggestion updated or closed writes no event: tell the response caches.
    await touch(conn, account_ids)
    return opened


@dataclass(slots=True)
class _Kept:
    """The open suggestions a round keeps, which the caller writes after them all: those
    with new evidence for their tier, and those as they were (with their confidence)."""

    updated: list[tuple[UUID, Proposal]] = field(default_factory=list)
    unchanged: list[tuple[UUID, float]] = field(default_factory=list)


async def _reconcile(
    conn: asyncpg.Connection,
    current: Suggestion | None,
    proposal: Proposal | None,
    at: tuple[datetime, int],
    kept: _Kept,
) -> Suggestion | None:
    """Close, open or keep the account's suggestion at (instant, round); an open one that
    keeps its tier is added to `kept`."""
    now, round_ = at
    if current is not None and current.status == "open":
        if proposal is not None and proposal.tier_key == current.tier_key:
            if current.same_as(proposal):
                kept.unchanged.append((current.id, current.confidence))
            else:
                kept.updated.append((current.id, proposal))
            return None
        await repository.close(conn, current.id, now)
    elif current is not None and proposal is not None:  # dismissed
        suppressed = current.dismissed_until is not None and now < current.dismissed_until
        if suppressed and not proposal.grew_beyond(current):
            return None
        await repository.close(conn, current.id, now)
    if proposal is None:
        return None
    created = await repository.insert(conn, proposal, now, round_)
    if created is None:
        return None
    await events.enqueue(conn, CREATED, created.account_id, payload(created))
    return created


def payload(s: Suggestion) -> dict[str, Any]:
    return {
        "id": str(s.id),
        "tier": s.tier_key,
        "tierVersionId": s.tier_version_id,
        "confidence": s.confidence,
        "reasons": [r.json() for r in s.reasons],
        "monthlyDeltaCents": s.monthly_delta_cents,
        "annualDeltaCents": s.annual_delta_cents,
        "currency": s.currency,
    }


async def refresh_marked(
    pool: asyncpg.Pool, catalog: Callable[[], Awaitable[Catalog]], now: datetime
) -> int:
    """The scheduler's job: mark the accounts of the evidence events since its last run and
    those not recomputed for a day, then recompute every account marked so far, a batch
    per transaction; returns how many suggestions were opened.

    Marks written while the run goes on wait for the next run: an account denied every
    second is recomputed once a run, where a run that took every new mark went on for as
    long as checks kept being denied, recomputing the same accounts over and over in the
    event loop that serves requests."""
    async with pool.acquire() as conn:
        await marks.follow_events(conn, now)
        await marks.mark_stale(conn, now - STALE_AFTER, now)
        through = await marks.last_id(conn)
    snapshot = await catalog()
    opened = rounds = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            claimed = await marks.claim(conn, BATCH, through)
            if not claimed:
                break
            opened += len(await recompute(conn, claimed, snapshot, now))
            rounds += 1
    if rounds:  # a run with nothing to recompute (most runs) leaves nothing to remove
        async with pool.acquire() as conn, conn.transaction():
            await rankings.prune(conn, now - _KEEP)
    return opened


@dataclass(frozen=True, slots=True)
class Accepted:
    suggestion: Suggestion
    plan: TierChangePlan
    entry: AuditEntry


async def _lock_open(conn: asyncpg.Connection, suggestion_id: UUID) -> Suggestion:
    found = await repository.by_id(conn, suggestion_id, lock=True)
    if found is None:
        raise TargetNotFound("suggestion")
    if found.status != "open":
        raise InvalidChange("id", f"the suggestion is {found.status}, not open")
    return found


async def accept(
    conn: asyncpg.Connection, change: ChangeContext, suggestion_id: UUID, catalog: Catalog
) -> Accepted:
    """Upgrade the account to the suggested tier through the audited tier change, and
    close the suggestion. Raises TargetNotFound or InvalidChange (not open, or the tier
    changed since the suggestion was made). The tier is the one the subscription has at
    the change's instant, as the job read it to make the suggestion (a scheduled
    downgrade may have happened, not yet written)."""
    found = await _lock_open(conn, suggestion_id)
    sub = await subscriptions.lock_as_of(conn, found.account_id, change.at)
    if sub.tier_version_id != found.from_tier_version_id:
        raise InvalidChange("id", "the account's tier changed since; the suggestion is stale")
    plan, entry = await subscriptions.change_tier(
        conn, change, found.account_id, found.tier_key, sub.version, catalog
    )
    decided = await repository.decide(
        conn, found.id, status="accepted", by=change.actor, now=change.at
    )
    details = {"auditEntryId": entry.id, "acceptedBy": change.actor}
    await events.enqueue(conn, ACCEPTED, found.account_id, {**payload(decided), **details})
    return Accepted(decided, plan, entry)


async def dismiss(
    conn: asyncpg.Connection, change: ChangeContext, suggestion_id: UUID, suppress: timedelta
) -> Suggestion:
    """Dismiss an open suggestion: no new one opens for `suppress` unless the evidence
    grows. Raises TargetNotFound or InvalidChange."""
    found = await _lock_open(conn, suggestion_id)
    decided = await repository.decide(
        conn,
        found.id,
        status="dismissed",
        by=change.actor,
        now=change.at,
        reason=change.reason,
        until=change.at + suppress,
    )
    details = {"dismissedBy": change.actor, "reason": change.reason}
    await events.enqueue(conn, DISMISSED, found.account_id, {**payload(decided), **details})
    return decided


async def current_by_accounts(
    conn: asyncpg.Connection, account_ids: Sequence[UUID]
) -> dict[UUID, Suggestion]:
    return await repository.current_by_accounts(conn, account_ids)


async def open_page(
    conn: asyncpg.Connection,
    *,
    round_: int | None,
    partner_id: UUID | None,
    after: tuple[float, UUID] | None,
    limit: int,
) -> Ranked:
    """A page of a walk through the open suggestions: the first (`round_` None) reads the
    last round's ranking, every later one the round its cursor names. Raises InvalidChange
    for a round whose ranking is gone (the walk began more than WALK_LIFETIME ago and a
    confidence changed since) or that no round reached."""
    found = await repository.open_page(
        conn, round_=round_, partner_id=partner_id, after=after, limit=limit
    )
    if not found.readable:
        raise InvalidChange("after", "the ranking this cursor read is gone; start again")
    return found


async def by_id(conn: asyncpg.Connection, suggestion_id: UUID) -> Suggestion | None:
    return await repository.by_id(conn, suggestion_id)


async def recommendations_of(
    conn: asyncpg.Connection, account: Account, catalog: Catalog, now: datetime
) -> list[Recommendation]:
    """Right-sizing and adoption recommendations from the account's evidence now: read
    afresh (ten statements), since they move with every period and every use."""
    # The current period and the closed ones before it that right-sizing judges by.
    evidence = await load_evidence(conn, [account.id], catalog, now, rightsizing.LOW_PERIODS + 1)
    since = now - timedelta(days=rightsizing.ADOPTION_DAYS)
    held = await adoption.adoption_of(conn, [account], catalog, now, since)
    return rightsizing.recommend(evidence[account.id], held[account.id], catalog, now)
