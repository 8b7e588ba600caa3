"""Awarding milestones: the achievement, its reward grant, an audit entry and a
`milestone.reached` event, all in the caller's transaction.

Usage and seat milestones are evaluated in the transaction of the change that reaches
them; time-driven ones by the scheduler (`scheduled`). The unique (account, milestone,
occurrence) row makes an award happen once, whoever races to it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from benefitgate.audit import service as audit
from benefitgate.audit.models import Target
from benefitgate.catalog.models import Catalog
from benefitgate.common.changes import ChangeContext
from benefitgate.common.isotime import to_iso
from benefitgate.entitlements import grants
from benefitgate.entitlements.models import Grant
from benefitgate.events import outbox as events
from benefitgate.milestones import repository
from benefitgate.milestones.models import Achievement, Milestone
from benefitgate.milestones.rules import Hit, occurrence, threshold_hits
from benefitgate.targets import service as targets
from benefitgate.usage.periods import calendar_month

__all__ = ["ACTOR", "EVENT", "award", "on_counters", "on_seats", "usage_milestones"]

ACTOR = "milestones"
EVENT = "milestone.reached"
KIND = "achievement"
REWARD_SOURCES = ("milestone", "anniversary")


async def award(
    conn: asyncpg.Connection,
    hits: Sequence[Hit],
    milestones: Mapping[str, Milestone],
    catalog: Catalog,
    at: datetime,
) -> list[Achievement]:
    """Achieve each hit not achieved before, and reward and report it; returns the new
    achievements. The statements are a few per milestone, not per achievement: a usage
    milestone many accounts reach in one ingest batch is awarded while the batch holds its
    counters' row locks."""
    achieved = await repository.insert_achievements(conn, hits, at)
    by_milestone: dict[str, list[Achievement]] = defaultdict(list)
    for achievement in achieved:
        by_milestone[achievement.milestone_key].append(achievement)
    # In the outbox and the audit log: milestone by milestone in key order, each one's
    # reward grants first, then its achievements (each grant before the event naming it).
    for key in sorted(by_milestone):
        await _reward_and_report(conn, by_milestone[key], milestones[key], catalog, at)
    return achieved


async def _rewards(
    conn: asyncpg.Connection,
    change: ChangeContext,
    achievements: Sequence[Achievement],
    m: Milestone,
    catalog: Catalog,
) -> dict[UUID, Grant]:
    """The reward grant of each of `achievements` of `m`, by achievement id: none if the
    milestone has no reward or its benefit has left the catalog since (the achievements
    stand either way)."""
    reward = m.reward
    benefit = None if reward is None else catalog.benefits.get(reward.benefit_key)
    if reward is None or benefit is None or not benefit.active_on(change.at.date()):
        return {}
    source = "anniversary" if m.kind == "renewal_anniversary" else "milestone"
    news = [
        grants.NewGrant(
            a.account_id,
            reward.benefit_key,
            source,
            reward.amount,
            a.achieved_at,
            None if reward.days is None else a.achieved_at + timedelta(days=reward.days),
        )
        for a in achievements
    ]
    created = await grants.create_grants(conn, change, news, catalog, sources=REWARD_SOURCES)
    rewards = {a.id: grant for a, (grant, _) in zip(achievements, created, strict=True)}
    await repository.set_grants(conn, [(a, g.id) for a, g in rewards.items()])
    return rewards


def snapshot(a: Achievement, m: Milestone, grant: Grant | None) -> dict[str, Any]:
    return {
        "achievementId": str(a.id),
        "milestone": m.key,
        "name": m.name,
        "kind": m.kind,
        "occurrence": a.occurrence,
        "achievedAt": a.achieved_at.isoformat(),
        "value": a.value,
        "reward": None if grant is None else {
            "grantId": str(grant.id),
            "benefit": grant.benefit_key,
            "amount": grant.amount,
            "validUntil": to_iso(grant.valid_until),
        },
    }  # fmt: skip


async def _reward_and_report(
    conn: asyncpg.Connection,
    achievements: Sequence[Achievement],
    m: Milestone,
    catalog: Catalog,
    at: datetime,
) -> None:
    """Reward `achievements` (new ones of `m`, achieved `at`), with an audit entry and a
    `milestone.reached` event each."""
    change = ChangeContext(ACTOR, f"milestone {m.key!r} reached", None, at)
    rewards = await _rewards(conn, change, achievements, m, catalog)
    afters = [snapshot(a, m, rewards.get(a.id)) for a in achievements]
    entries = await audit.record_many(
        conn,
        change,
        "milestone.achieved",
        [
            (Target(KIND, str(a.id), a.account_id), None, after)
            for a, after in zip(achievements, afters, strict=True)
        ],
    )
    await events.enqueue_many(
        conn,
        EVENT,
        [
            (a.account_id, {"auditEntryId": entry, **after})
            for a, entry, after in zip(achievements, entries, afters, strict=True)
        ],
    )


async def usage_milestones(conn: asyncpg.Connection) -> list[Milestone]:
    """The active milestones that counters can reach, for `on_counters`. Read them before
    the change that updates the counters: from then on it holds their row locks, which
    concurrent changes of the same counters wait for."""
    return await repository.active_milestones(conn, ("usage_threshold", "outcome_target"))


async def on_counters(
    conn: asyncpg.Connection,
    counters: Sequence[tuple[UUID, str, datetime, float]],
    milestones: Sequence[Milestone],
    catalog: Catalog,
    now: datetime,
) -> None:
    """Award the usage `milestones` that updated counters (account, metric, period start,
    value) reach, and the outcome targets their metrics now meet."""
    if not milestones or not counters:
        return
    hits = threshold_hits(milestones, counters)
    hits += await _target_hits(conn, milestones, counters, catalog, now.date())
    await award(conn, hits, {m.key: m for m in milestones}, catalog, now)


async def _target_hits(
    conn: asyncpg.Connection,
    milestones: Sequence[Milestone],
    counters: Sequence[tuple[UUID, str, datetime, float]],
    catalog: Catalog,
    today: date,
) -> list[Hit]:
    touched = {metric for _, metric, _, _ in counters}
    wanted = [
        m
        for m in milestones
        if m.kind == "outcome_target"
        and m.outcome_key in catalog.outcomes
        and catalog.outcomes[m.outcome_key].metric_key in touched
    ]
    if not wanted:
        return []
    accounts = sorted({account_id for account_id, _, _, _ in counters})
    progress = await targets.progress_by_account(conn, accounts, catalog, today)
    return [
        (account_id, m.key, occurrence(m, p.target.starts_on), p.actual)
        for account_id, rows in progress.items()
        for p in rows
        if p.met
        for m in wanted
        if m.outcome_key == p.target.outcome_key
    ]


async def on_seats(
    conn: asyncpg.Connection,
    account_id: UUID,
    assigned: int,
    purchased: int,
    catalog: Catalog,
    now: datetime,
) -> None:
    """Award the seat-utilisation milestones an allocation reaches; repeatable ones count
    once per calendar month."""
    milestones = await repository.active_milestones(conn, ("seat_utilisation",))
    ratio = assigned / purchased if purchased else 0.0
    month = calendar_month(now).start
    hits = [
        (account_id, m.key, occurrence(m, month), ratio)
        for m in milestones
        if m.threshold is not None and ratio >= m.threshold
    ]
    await award(conn, hits, {m.key: m for m in milestones}, catalog, now)
