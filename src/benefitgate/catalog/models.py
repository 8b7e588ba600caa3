"""Catalog models: frozen, no I/O."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

__all__ = [
    "WHOLE_AGGREGATIONS",
    "Benefit",
    "Catalog",
    "Exclusion",
    "IncludedBenefit",
    "Metric",
    "Outcome",
    "TierLimit",
    "TierOutcome",
    "TierVersion",
    "VersionStatus",
]


# The aggregations whose counters count (events, distinct values) instead of adding or
# keeping the values events carry.
WHOLE_AGGREGATIONS = frozenset({"count", "unique_count"})


class VersionStatus(enum.Enum):
    """Where a tier version stands in its tier's history at some instant."""

    DRAFT = "draft"  # not published; visible to internal tools only
    SCHEDULED = "scheduled"  # published, takes effect later
    IN_FORCE = "in_force"  # the tier's newest version in effect: what the ladder shows
    SUPERSEDED = "superseded"  # in effect once, replaced by a newer one
    DISCARDED = "discarded"  # a draft thrown away; only the discard's result shows it


@dataclass(frozen=True, slots=True)
class Outcome:
    key: str
    name: str
    unit: str
    direction: str
    description: str
    metric_key: str | None = None  # the metric that measures it, when one does
    value_per_unit_cents: int | None = None  # what a unit delivered is worth, when set
    value_currency: str | None = None


@dataclass(frozen=True, slots=True)
class Metric:
    key: str
    name: str
    unit: str
    aggregation: str
    reset: str
    group_by: tuple[str, ...] = ()  # event properties its usage is also counted by
    unique_property: str | None = None  # unique_count: the property whose values it counts

    @property
    def counts_whole(self) -> bool:
        """Whether its counters only ever hold whole numbers: it counts events or distinct
        values. A limit, target or threshold of 5.5 of it cannot be told from 5 or 6; sums
        and gauges (max, latest) hold whatever values the events carry."""
        return self.aggregation in WHOLE_AGGREGATIONS


@dataclass(frozen=True, slots=True)
class Benefit:
    key: str
    name: str
    kind: str
    description: str
    outcome_key: str | None
    impact_amount: float | None
    impact_unit: str | None
    metric_key: str | None
    introduced_on: date
    retired_on: date | None
    version: int = 1  # bumped by each change; internal tools pass it back to change it

    def active_on(self, day: date) -> bool:
        return self.introduced_on <= day and (self.retired_on is None or day < self.retired_on)


@dataclass(frozen=True, slots=True)
class TierLimit:
    metric_key: str
    enforcement: str  # hard | soft | unlimited
    included: float | None  # None when unlimited


@dataclass(frozen=True, slots=True)
class TierOutcome:
    outcome_key: str
    target_amount: float | None


@dataclass(frozen=True, slots=True)
class IncludedBenefit:
    benefit_key: str
    parameters: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Exclusion:
    benefit_key: str
    included_in_tier_key: str | None
    note: str


@dataclass(frozen=True, slots=True)
class TierVersion:
    id: int
    tier_key: str
    name: str
    rank: int
    version: int
    value_narrative: str
    currency: str
    monthly_price_cents: int
    annual_price_cents: int
    support_level: str
    support_first_response_hours: int
    support_channels: tuple[str, ...]
    effective_from: datetime
    published_at: datetime | None
    outcomes: tuple[TierOutcome, ...] = ()
    limits: tuple[TierLimit, ...] = ()
    benefits: tuple[IncludedBenefit, ...] = ()
    exclusions: tuple[Exclusion, ...] = ()

    def in_force(self, now: datetime) -> bool:
        return self.published_at is not None and self.effective_from <= now

    def limit_for(self, metric_key: str) -> TierLimit | None:
        return next((lim for lim in self.limits if lim.metric_key == metric_key), None)

    @property
    def benefit_keys(self) -> frozenset[str]:
        return frozenset(b.benefit_key for b in self.benefits)


@dataclass(frozen=True, slots=True, eq=False)
class Catalog:
    """A snapshot of the whole catalog; small enough to hold in memory per process.

    Compared and hashed by identity: each load is a distinct snapshot."""

    outcomes: dict[str, Outcome]
    metrics: dict[str, Metric]
    benefits: dict[str, Benefit]
    versions: dict[int, TierVersion]

    def counts_whole(self, metric_key: str | None) -> bool:
        """Whether `metric_key` names a metric of this catalog that counts in whole numbers
        (`Metric.counts_whole`); an unknown metric or none is not (refused elsewhere)."""
        metric = None if metric_key is None else self.metrics.get(metric_key)
        return metric is not None and metric.counts_whole

    def ladder(self, now: datetime) -> tuple[TierVersion, ...]:
        """The version of each tier in force at `now`, lowest rank first."""
        current: dict[str, TierVersion] = {}
        for version in self.versions.values():
            if not version.in_force(now):
                continue
            best = current.get(version.tier_key)
            if best is None or version.version > best.version:
                current[version.tier_key] = version
        return tuple(sorted(current.values(), key=lambda v: v.rank))

    def current(self, tier_key: str, now: datetime) -> TierVersion | None:
        return next((v for v in self.ladder(now) if v.tier_key == tier_key), None)

    def versions_of(self, tier_key: str) -> tuple[TierVersion, ...]:
        """Every version of the tier, drafts included, oldest first."""
        found = (v for v in self.versions.values() if v.tier_key == tier_key)
        return tuple(sorted(found, key=lambda v: v.version))

    def status(self, version: TierVersion, now: datetime) -> VersionStatus:
        if version.published_at is None:
            return VersionStatus.DRAFT
        if version.effective_from > now:
            return VersionStatus.SCHEDULED
        in_force = (v for v in self.versions_of(version.tier_key) if v.in_force(now))
        newest = max(in_force, key=lambda v: v.version, default=version)
        return VersionStatus.IN_FORCE if newest.id == version.id else VersionStatus.SUPERSEDED

    def next_above(self, rank: int, now: datetime) -> TierVersion | None:
        return next((v for v in self.ladder(now) if v.rank > rank), None)

    def next_change(self, now: datetime) -> datetime | None:
        """The first instant after `now` at which a published version comes into force:
        until then, everything read from this snapshot at `now` stays true (benefits'
        dates are days, which change at midnight)."""
        coming = [
            v.effective_from
            for v in self.versions.values()
            if v.published_at is not None and v.effective_from > now
        ]
        return min(coming, default=None)
