"""Where an account stands with the milestones: what it achieved, and its progress toward
the next occurrence of each active one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

import asyncpg

from benefitgate.accounts.models import AccountView
from benefitgate.milestones import repository
from benefitgate.milestones.models import Achievement, Milestone, Progress
from benefitgate.milestones.rules import ONCE, anniversary_progress, occurrence, usage_progress
from benefitgate.targets.models import TargetProgress
from benefitgate.usage.periods import Period, calendar_month

__all__ = ["Standing", "next_progress", "standings"]


@dataclass(frozen=True, slots=True)
class Standing:
    milestones: dict[str, Milestone]  # every milestone, inactive ones too, by key
    achievements: tuple[Achievement, ...]  # newest first
    streaks: dict[str, int] = field(default_factory=dict)  # sustained milestone: periods

    def achieved(self, key: str, occurrence: str) -> bool:
        return any(a.milestone_key == key and a.occurrence == occurrence for a in self.achievements)


async def standings(
    conn: asyncpg.Connection, account_ids: Sequence[UUID], now: datetime
) -> dict[UUID, Standing]:
    """In 2 statements, plus one per active sustained-usage milestone."""
    milestones = {m.key: m for m in await repository.active_milestones(conn, inactive=True)}
    achieved: dict[UUID, list[Achievement]] = {a: [] for a in account_ids}
    for a in await repository.achievements_by_accounts(conn, account_ids):
        achieved[a.account_id].append(a)
    streaks: dict[UUID, dict[str, int]] = {a: {} for a in account_ids}
    for m in milestones.values():
        if m.active and m.kind == "sustained_usage":
            assert m.metric_key is not None and m.threshold is not None
            found = await repository.streaks(conn, account_ids, m.metric_key, m.threshold, now)
            for account_id, streak in found.items():
                streaks[account_id][m.key] = streak
    return {a: Standing(milestones, tuple(achieved[a]), streaks[a]) for a in account_ids}


def next_progress(
    standing: Standing,
    view: AccountView,
    seats: tuple[int, int],
    targets: Sequence[TargetProgress],
    now: datetime,
) -> list[Progress]:
    """Progress toward each active milestone not yet reached in its current occurrence;
    `seats` is (assigned, purchased)."""
    found = []
    for m in standing.milestones.values():
        if m.active:
            progress = _progress(m, standing, view, seats, targets, now)
            if progress is not None:
                found.append(progress)
    return found


def _progress(
    m: Milestone,
    standing: Standing,
    view: AccountView,
    seats: tuple[int, int],
    targets: Sequence[TargetProgress],
    now: datetime,
) -> Progress | None:
    sub = view.account.subscription
    if m.kind == "usage_threshold":
        usage = next((u for u in view.usage if u.metric.key == m.metric_key), None)
        if usage is None or standing.achieved(m.key, occurrence(m, usage.period_start)):
            return None
        period = Period(usage.period_start, usage.period_end)
        return usage_progress(m, usage.metric.aggregation, usage.used, period, now)
    if m.kind == "sustained_usage":
        assert m.periods is not None
        if not m.repeatable and standing.achieved(m.key, ONCE):
            return None
        streak = min(standing.streaks.get(m.key, 0), m.periods)
        return Progress(m, streak, m.periods, None)
    if m.kind == "renewal_anniversary":
        if sub is None or standing.achieved(m.key, ONCE):
            return None
        progress = anniversary_progress(m, sub.started_at, now)
        # Only anniversaries after the milestone was defined are awarded (`scheduled`).
        due = progress.expected_at
        return progress if due is not None and due > m.created_at else None
    if m.kind == "outcome_target":
        target = next((t for t in targets if t.target.outcome_key == m.outcome_key), None)
        if target is None or target.actual is None:
            return None
        if standing.achieved(m.key, occurrence(m, target.target.starts_on)):
            return None
        return Progress(m, target.actual, target.target.target, None)
    assert m.threshold is not None  # seat utilisation
    assigned, purchased = seats
    if purchased == 0 or standing.achieved(m.key, occurrence(m, calendar_month(now).start)):
        return None
    return Progress(m, round(assigned / purchased, 4), m.threshold, None)
