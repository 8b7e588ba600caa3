"""Upgrade suggestions, their evidence and their reasons; frozen, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from benefitgate.accounts.models import Account
from benefitgate.common.isotime import from_iso, to_iso
from benefitgate.entitlements.models import Grant
from benefitgate.targets.models import TargetProgress

__all__ = [
    "SIGNALS",
    "Achieved",
    "CounterReading",
    "Denial",
    "Evidence",
    "Gain",
    "Proposal",
    "Ranked",
    "Reason",
    "Suggestion",
]

# Each kind of evidence the engine reads, and how much one such reason alone says about an
# upgrade (0 to 1). Reasons combine as independent evidence: 1 - prod(1 - weight).
SIGNALS = {
    "limit_pressure": 0.45,  # 80 % or more of a limit in two of the last three periods
    "projected_overrun": 0.35,  # the run rate passes the limit before the period ends
    "denied_feature": 0.2,  # checks denied for a feature a higher tier includes (+ volume)
    "seat_pressure": 0.3,  # 90 % or more of the purchased seats assigned
    "outcome_lagging": 0.2,  # a target behind pace that a higher tier's benefits move
    "milestone_reached": 0.1,  # adoption milestones reached lately
    # Right-sizing and adoption (see `rightsizing`):
    "usage_far_below": 0.3,  # under 30 % of a limit in each of the last three closed periods
    "benefit_unused": 0.5,  # an included benefit measured and not used for 60 days
}


@dataclass(frozen=True, slots=True)
class CounterReading:
    metric_key: str
    period_start: datetime
    period_end: datetime | None
    value: float


@dataclass(frozen=True, slots=True)
class Denial:
    feature: str
    reason: str  # not_in_tier | excluded
    count: int
    first_at: datetime
    last_at: datetime


@dataclass(frozen=True, slots=True)
class Achieved:
    milestone_key: str
    name: str
    kind: str
    achieved_at: datetime


@dataclass(frozen=True, slots=True)
class Evidence:
    """Everything the engine reads about one account, loaded in a few statements."""

    account: Account
    grants: tuple[Grant, ...] = ()
    counters: tuple[CounterReading, ...] = ()  # the last three periods per metric
    denials: tuple[Denial, ...] = ()
    seats_assigned: int = 0
    achieved: tuple[Achieved, ...] = ()
    targets: tuple[TargetProgress, ...] = ()


@dataclass(frozen=True, slots=True)
class Reason:
    """One signal, with the evidence a customer can check for themselves."""

    signal: str  # a key of SIGNALS
    subject: str  # the metric, feature, milestone or outcome; "seats" for seats
    message: str
    observed: float | None = None
    limit: float | None = None
    since: datetime | None = None
    until: datetime | None = None
    weight: float = 0.0

    @property
    def key(self) -> tuple[str, str]:
        return self.signal, self.subject

    def json(self) -> dict[str, Any]:
        return {
            "signal": self.signal,
            "subject": self.subject,
            "message": self.message,
            "observed": self.observed,
            "limit": self.limit,
            "since": to_iso(self.since),
            "until": to_iso(self.until),
            "weight": self.weight,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Reason:
        return cls(
            signal=raw["signal"],
            subject=raw["subject"],
            message=raw["message"],
            observed=raw["observed"],
            limit=raw["limit"],
            since=from_iso(raw["since"]),
            until=from_iso(raw["until"]),
            weight=raw["weight"],
        )


@dataclass(frozen=True, slots=True)
class Gain:
    """A benefit the suggested tier adds, and the outcome it is expected to move."""

    benefit_key: str
    outcome_key: str | None
    impact_amount: float | None
    impact_unit: str | None

    def json(self) -> dict[str, Any]:
        return {
            "benefit": self.benefit_key,
            "outcome": self.outcome_key,
            "impactAmount": self.impact_amount,
            "impactUnit": self.impact_unit,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Gain:
        return cls(raw["benefit"], raw["outcome"], raw["impactAmount"], raw["impactUnit"])


@dataclass(frozen=True, slots=True)
class Proposal:
    """What the engine recommends for an account now."""

    account_id: UUID
    tier_key: str
    tier_version_id: int
    from_tier_version_id: int
    reasons: tuple[Reason, ...]
    gains: tuple[Gain, ...]
    confidence: float
    currency: str
    monthly_delta_cents: int
    annual_delta_cents: int

    def grew_beyond(self, earlier: Suggestion) -> bool:
        """Whether this evidence is stronger than what a dismissed suggestion showed: a
        reason it lacked, or a confidence at least 0.1 higher."""
        known = {r.key for r in earlier.reasons}
        new_reason = any(r.key not in known for r in self.reasons)
        return new_reason or self.confidence >= earlier.confidence + 0.1


@dataclass(frozen=True, slots=True)
class Suggestion:
    id: UUID
    account_id: UUID
    tier_key: str
    tier_version_id: int
    from_tier_version_id: int
    status: str  # open | accepted | dismissed | withdrawn
    confidence: float
    reasons: tuple[Reason, ...]
    gains: tuple[Gain, ...]
    currency: str
    monthly_delta_cents: int
    annual_delta_cents: int
    created_at: datetime
    evaluated_at: datetime
    decided_at: datetime | None = None
    decided_by: str | None = None
    dismiss_reason: str | None = None
    dismissed_until: datetime | None = None
    closed_at: datetime | None = None
    version: int = 1

    def same_as(self, proposal: Proposal) -> bool:
        return (
            self.tier_version_id == proposal.tier_version_id
            and self.reasons == proposal.reasons
            and self.gains == proposal.gains
            and self.confidence == proposal.confidence
        )


@dataclass(frozen=True, slots=True)
class Ranked:
    """A page of a walk through the open suggestions: each suggestion as it is now with the
    confidence the walk ranks it by (its confidence at the walk's round), the round read,
    and whether that round can still be read (False: its closed rows were removed)."""

    page: tuple[tuple[Suggestion, float], ...]
    round: int
    readable: bool
