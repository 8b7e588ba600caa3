"""What changed between two tier versions. Pure.

Used by `tierVersionDiff`, by bulk migration previews, and by the renewal view ("what is
new since your last renewal"). Collections compare by key (benefit, metric, outcome): a
key on one side only is added or removed; on both sides with other values, changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from benefitgate.catalog.models import (
    Exclusion,
    IncludedBenefit,
    TierLimit,
    TierOutcome,
    TierVersion,
)

__all__ = ["Change", "Delta", "Price", "Support", "TierVersionDiff", "diff_versions", "price_of"]

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Change(Generic[_T]):
    before: _T
    after: _T


@dataclass(frozen=True, slots=True)
class Delta(Generic[_T]):
    """A keyed collection compared: entries added, removed, and changed in place."""

    added: tuple[_T, ...] = ()
    removed: tuple[_T, ...] = ()
    changed: tuple[Change[_T], ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


@dataclass(frozen=True, slots=True)
class Price:
    cents: int
    currency: str


@dataclass(frozen=True, slots=True)
class Support:
    level: str
    first_response_hours: int
    channels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TierVersionDiff:
    """`before` to `after`; a field is None (or an empty Delta) when it did not change."""

    before: TierVersion
    after: TierVersion
    benefits: Delta[IncludedBenefit]  # changed: the same benefit with other parameters
    limits: Delta[TierLimit]  # changed: another amount or enforcement
    exclusions: Delta[Exclusion]  # changed: another including tier or note
    outcomes: Delta[TierOutcome]  # changed: another target
    monthly_price: Change[Price] | None
    annual_price: Change[Price] | None
    support: Change[Support] | None

    @property
    def unchanged(self) -> bool:
        deltas = (self.benefits, self.limits, self.exclusions, self.outcomes)
        scalars = (self.monthly_price, self.annual_price, self.support)
        return all(d.empty for d in deltas) and all(s is None for s in scalars)

    def price(self, term: str) -> Change[Price]:
        """The price for a `monthly` or `annual` term, before and after (maybe equal)."""
        return Change(price_of(self.before, term), price_of(self.after, term))


def price_of(version: TierVersion, term: str) -> Price:
    cents = version.monthly_price_cents if term == "monthly" else version.annual_price_cents
    return Price(cents, version.currency)


def _support(version: TierVersion) -> Support:
    return Support(
        version.support_level, version.support_first_response_hours, version.support_channels
    )


def _changed(before: _T, after: _T) -> Change[_T] | None:
    return None if before == after else Change(before, after)


def _delta(before: Iterable[_T], after: Iterable[_T], key: Callable[[_T], str]) -> Delta[_T]:
    old = {key(item): item for item in before}
    new = {key(item): item for item in after}
    return Delta(
        added=tuple(new[k] for k in sorted(new.keys() - old.keys())),
        removed=tuple(old[k] for k in sorted(old.keys() - new.keys())),
        changed=tuple(
            Change(old[k], new[k]) for k in sorted(old.keys() & new.keys()) if old[k] != new[k]
        ),
    )


def diff_versions(before: TierVersion, after: TierVersion) -> TierVersionDiff:
    """What a customer moving from `before` to `after` gains, loses and pays. Any two
    versions compare, of one tier or of two."""
    return TierVersionDiff(
        before=before,
        after=after,
        benefits=_delta(before.benefits, after.benefits, lambda b: b.benefit_key),
        limits=_delta(before.limits, after.limits, lambda lim: lim.metric_key),
        exclusions=_delta(before.exclusions, after.exclusions, lambda e: e.benefit_key),
        outcomes=_delta(before.outcomes, after.outcomes, lambda o: o.outcome_key),
        monthly_price=_changed(price_of(before, "monthly"), price_of(after, "monthly")),
        annual_price=_changed(price_of(before, "annual"), price_of(after, "annual")),
        support=_changed(_support(before), _support(after)),
    )
