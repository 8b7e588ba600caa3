"""Milestones and achievements; frozen, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from benefitgate.common.quantities import percent_of

__all__ = ["KINDS", "USAGE_KINDS", "Achievement", "Milestone", "Progress", "Reward"]

KINDS = (
    "usage_threshold",
    "sustained_usage",
    "renewal_anniversary",
    "outcome_target",
    "seat_utilisation",
)
USAGE_KINDS = frozenset({"usage_threshold"})  # evaluated with the counter update


@dataclass(frozen=True, slots=True)
class Reward:
    benefit_key: str
    amount: float | None
    days: int | None  # None: it does not expire


@dataclass(frozen=True, slots=True)
class Milestone:
    key: str
    name: str
    description: str
    kind: str
    metric_key: str | None
    threshold: float | None
    periods: int | None
    outcome_key: str | None
    repeatable: bool
    reward: Reward | None
    active: bool
    created_at: datetime
    version: int


@dataclass(frozen=True, slots=True)
class Achievement:
    id: UUID
    account_id: UUID
    milestone_key: str
    occurrence: str
    achieved_at: datetime
    value: float | None
    grant_id: UUID | None


@dataclass(frozen=True, slots=True)
class Progress:
    """How far an account is toward a milestone's next occurrence."""

    milestone: Milestone
    current: float
    target: float
    expected_at: datetime | None  # from the trend, when it can be told

    @property
    def percent(self) -> float:
        return percent_of(self.current, self.target, 1) if self.target else 100.0
