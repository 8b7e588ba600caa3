"""GraphQL types of milestones and achievements."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry

from benefitgate.catalog.types import Benefit, CatalogTypes
from benefitgate.milestones import models

__all__ = [
    "Achievement",
    "MilestoneDefined",
    "MilestoneInput",
    "MilestoneKind",
    "MilestoneProgress",
    "MilestoneStatus",
    "achievement_type",
    "milestone_type",
    "progress_type",
]


@strawberry.enum
class MilestoneKind(enum.Enum):
    USAGE_THRESHOLD = "usage_threshold"
    SUSTAINED_USAGE = "sustained_usage"
    RENEWAL_ANNIVERSARY = "renewal_anniversary"
    OUTCOME_TARGET = "outcome_target"
    SEAT_UTILISATION = "seat_utilisation"


@strawberry.type(description="What reaching a milestone grants.")
class MilestoneReward:
    benefit: Benefit
    amount: float | None
    days: int | None = strawberry.field(description="How long the grant lasts; null: no end.")


@strawberry.type(description="A rule that rewards adoption, at most once per occurrence.")
class Milestone:
    key: str
    name: str
    description: str
    kind: MilestoneKind
    metric: str | None = strawberry.field(description="Usage kinds: the metric's key.")
    threshold: float | None = strawberry.field(
        description="Usage kinds: the amount in a period. Seat utilisation: the share of "
        "purchased seats assigned (0 to 1)."
    )
    periods: int | None = strawberry.field(
        description="Sustained usage: consecutive periods. Renewal anniversary: which one."
    )
    outcome: str | None = strawberry.field(description="Outcome target: the outcome's key.")
    repeatable: bool = strawberry.field(
        description="Once per period (or target window), or once ever."
    )
    reward: MilestoneReward | None
    active: bool
    version: int


@strawberry.type
class Achievement:
    milestone: Milestone
    occurrence: str = strawberry.field(description="'once', or the period it counts for.")
    achieved_at: datetime
    value: float | None
    reward_grant_id: strawberry.ID | None


@strawberry.type(description="Progress toward a milestone's next occurrence.")
class MilestoneProgress:
    milestone: Milestone
    current: float
    target: float
    percent: float
    expected_at: datetime | None = strawberry.field(
        description="When the trend so far reaches the target, if it can be told."
    )


@strawberry.type
class MilestoneStatus:
    achieved: list[Achievement] = strawberry.field(description="Newest first.")
    next: list[MilestoneProgress] = strawberry.field(
        description="Active milestones not yet reached in their current occurrence."
    )


@strawberry.input
class MilestoneRewardInput:
    benefit: str
    amount: float | None = None
    days: int | None = None


@strawberry.input
class MilestoneInput:
    key: str
    name: str
    kind: MilestoneKind
    description: str = ""
    metric: str | None = None
    threshold: float | None = None
    periods: int | None = None
    outcome: str | None = None
    repeatable: bool = False
    reward: MilestoneRewardInput | None = None
    active: bool = True


@strawberry.type
class MilestoneDefined:
    milestone: Milestone
    audit_entry_id: strawberry.ID
    replayed: bool


def milestone_type(m: models.Milestone, types: CatalogTypes) -> Milestone:
    reward = None
    if m.reward is not None and m.reward.benefit_key in types.benefits:
        benefit = types.benefits[m.reward.benefit_key]
        reward = MilestoneReward(benefit=benefit, amount=m.reward.amount, days=m.reward.days)
    return Milestone(
        key=m.key,
        name=m.name,
        description=m.description,
        kind=MilestoneKind(m.kind),
        metric=m.metric_key,
        threshold=m.threshold,
        periods=m.periods,
        outcome=m.outcome_key,
        repeatable=m.repeatable,
        reward=reward,
        active=m.active,
        version=m.version,
    )


def achievement_type(a: models.Achievement, milestone: Milestone) -> Achievement:
    grant = a.grant_id
    return Achievement(
        milestone=milestone,
        occurrence=a.occurrence,
        achieved_at=a.achieved_at,
        value=a.value,
        reward_grant_id=None if grant is None else strawberry.ID(str(grant)),
    )


def progress_type(p: models.Progress, milestone: Milestone) -> MilestoneProgress:
    return MilestoneProgress(
        milestone=milestone,
        current=p.current,
        target=p.target,
        percent=p.percent,
        expected_at=p.expected_at,
    )
