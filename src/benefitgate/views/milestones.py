"""An account's milestones in its view: what it achieved, and its progress toward the next
occurrence of each active milestone, from the view's usage, seats and targets."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from benefitgate.accounts.models import Account, Subscription
from benefitgate.api.context import Info
from benefitgate.catalog.models import Catalog
from benefitgate.catalog.types import catalog_types
from benefitgate.milestones.models import Milestone, Progress
from benefitgate.milestones.rules import ONCE, anniversary_progress, occurrence, usage_progress
from benefitgate.milestones.standing import Standing
from benefitgate.milestones.types import (
    MilestoneStatus,
    achievement_type,
    milestone_type,
    progress_type,
)
from benefitgate.targets.models import TargetProgress
from benefitgate.usage.periods import Period, calendar_month
from benefitgate.views.loaders import Loaders
from benefitgate.views.models import MetricUsage

__all__ = ["milestone_status", "next_progress"]


async def milestone_status(info: Info, account: Account, catalog: Catalog) -> MilestoneStatus:
    """For an account the caller already sees."""
    loaders = info.context.loader(Loaders)
    standing = await loaders.milestone_standing_by_account.load(account.id)
    usage = await loaders.usage_by_account.load(account.id)
    held = await loaders.seats_by_account.load(account.id)
    targets = await loaders.target_progress_by_account.load(account.id)
    sub = account.subscription
    seats = (len(held), sub.seats if sub else 0)
    types = catalog_types(catalog)
    shown = {k: milestone_type(m, types) for k, m in standing.milestones.items()}
    progress = next_progress(standing, sub, usage, seats, targets, info.context.now)
    return MilestoneStatus(
        achieved=[achievement_type(a, shown[a.milestone_key]) for a in standing.achievements],
        next=[progress_type(p, shown[p.milestone.key]) for p in progress],
    )


def next_progress(
    standing: Standing,
    sub: Subscription | None,
    usage: Sequence[MetricUsage],
    seats: tuple[int, int],
    targets: Sequence[TargetProgress],
    now: datetime,
) -> list[Progress]:
    """Progress toward each active milestone not yet reached in its current occurrence;
    `seats` is (assigned, purchased)."""
    found = []
    for m in standing.milestones.values():
        if m.active:
            progress = _progress(m, standing, sub, usage, seats, targets, now)
            if progress is not None:
                found.append(progress)
    return found


def _progress(
    m: Milestone,
    standing: Standing,
    sub: Subscription | None,
    usage: Sequence[MetricUsage],
    seats: tuple[int, int],
    targets: Sequence[TargetProgress],
    now: datetime,
) -> Progress | None:
    if m.kind == "usage_threshold":
        row = next((u for u in usage if u.metric.key == m.metric_key), None)
        if row is None or standing.achieved(m.key, occurrence(m, row.period_start)):
            return None
        period = Period(row.period_start, row.period_end)
        return usage_progress(m, row.metric.aggregation, row.used, period, now)
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
