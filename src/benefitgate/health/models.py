"""Account health: the facts it is scored from, its factors and score; frozen, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from uuid import UUID

__all__ = ["REASON_BELOW", "Factor", "Health", "Scored", "Signals", "TargetPace"]

REASON_BELOW = 60  # a factor scoring below this is a reason the account is at risk


@dataclass(frozen=True, slots=True)
class TargetPace:
    """An outcome target in force today: its attainment so far and the share of its days
    gone."""

    outcome_key: str
    percent: float
    elapsed: float  # 0 to 1


@dataclass(frozen=True, slots=True)
class Signals:
    """What one account's health is scored from, read for many accounts at once."""

    # Per metric: usage over the 30 days before the last 30, and over the last 30.
    usage: dict[str, tuple[float, float]] = field(default_factory=dict)
    targets: list[TargetPace] = field(default_factory=list)
    benefits_measured: int = 0  # benefits held 60 days or more whose use is measured
    benefits_unused: int = 0  # of those, unused for the last 60 days
    seats_held: int = 0
    seats_purchased: int = 0
    denied_features: int = 0  # features denied in the last 30 days
    cancel_scheduled: bool = False


@dataclass(frozen=True, slots=True)
class Factor:
    key: str  # usage_trend, target_pace, benefit_adoption, seat_use, denials, cancellation
    score: int  # 0 (worst) to 100
    weight: int
    detail: str  # plain words, for a reason


@dataclass(frozen=True, slots=True)
class Health:
    account_id: UUID
    score: int  # the weighted mean of the factors that apply
    factors: list[Factor]  # those that apply, most harmful first

    @property
    def reasons(self) -> list[Factor]:
        """The factors that put the account at risk: those scoring below REASON_BELOW."""
        return [f for f in self.factors if f.score < REASON_BELOW]


@dataclass(frozen=True, slots=True)
class Scored:
    """A stored score: the health a round of the health job found, the renewal date it
    ranked the account by, and the last round that found it."""

    health: Health
    renews_on: date | None
    scored_at: datetime
